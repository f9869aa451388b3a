// Types and pure functions shared by every kind's shader.
// The numbers shared with Rust (channel counts, weight offsets, edit and view codes, palettes)
// are not written here: src/gpu/shaders.rs generates them from the Rust definitions and puts
// them in front of this file, so the two sides cannot drift apart. Rust twins of the structs
// live in src/gpu/types.rs; a unit test checks that the layouts agree.

// One entry per dispatch (dynamic uniform offset): only `step` differs between steps of a frame.
struct StepParams {
    width: u32,
    height: u32,
    seed: u32,
    step: u32,
    edit_count: u32,
    species_count: u32,
    view_mode: u32,       // VIEW_*
    view_channel: u32,    // the channel of VIEW_CHANNEL
    // The edits pass applies edits[edit_first .. edit_first + edit_count]: a frame that also
    // runs work deferred from a skipped frame applies each frame's edits in their place.
    edit_first: u32,
    pad_x: u32,
    pad_y: u32,
    pad_z: u32,
    // Rows of the rotated Sobel kernels (growing; xyz used).
    sobel_x: array<vec4<f32>, 3>,
    sobel_y: array<vec4<f32>, 3>,
    background: vec4<f32>,
    // The display's class colours, palette chosen and hue rotated (MNIST; rgb used).
    classes: array<vec4<f32>, 10>,
}

// One edit command; which fields matter depends on `kind` (EDIT_*).
struct Edit {
    kind: u32,
    radius: f32,          // ERASE_DISC, PAINT_SPECIES
    species: u32,         // PLANT_SEED, DRAW, PAINT_SPECIES
    payload: u32,         // DRAW, PLACE_IMAGE: index of the box's first value in `payload`
    cell: vec2<u32>,      // PLANT_SEED: the cell; ERASE_RECT: first cell inside
    cell_end: vec2<u32>,  // ERASE_RECT: first cell past the rectangle
    center: vec2<f32>,    // ERASE_DISC, PAINT_SPECIES
    origin: vec2<i32>,    // DRAW, PLACE_IMAGE: the box's first cell
    size: vec2<u32>,      // DRAW, PLACE_IMAGE: the box's size; one payload value per cell
}

// PCG-RXS-M-XS; see src/model/fire.rs for the contract.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn cell_hash(seed: u32, step: u32, x: u32, y: u32) -> u32 {
    return pcg(pcg(pcg(pcg(seed) + step) + x) + y);
}

fn fires(seed: u32, step: u32, x: u32, y: u32, threshold: u32) -> bool {
    return (cell_hash(seed, step, x, y) >> 8u) < threshold;
}

// The centred Irwin-Hall sum behind the residual noise of update channel `channel`
// (src/model/fire.rs, `noise_sum`); times the species' noise scale it is the noise.
fn noise_sum(hash: u32, channel: u32) -> i32 {
    let a = pcg(hash + 2u * channel + 1u);
    let b = pcg(hash + 2u * channel + 2u);
    return i32((a & 0xffffu) + (a >> 16u) + (b & 0xffffu) + (b >> 16u)) - 131070;
}

fn inside_disc(x: u32, y: u32, center: vec2<f32>, radius: f32) -> bool {
    let d = vec2<f32>(f32(x) + 0.5, f32(y) + 0.5) - center;
    return dot(d, d) < radius * radius;
}

// Whether `edit` zeroes the cell at `id` (the erasing edits every kind shares).
fn edit_erases(edit: Edit, id: vec2<u32>) -> bool {
    if edit.kind == EDIT_CLEAR {
        return true;
    }
    if edit.kind == EDIT_ERASE_RECT {
        return all(id >= edit.cell) && all(id < edit.cell_end);
    }
    return edit.kind == EDIT_ERASE_DISC && inside_disc(id.x, id.y, edit.center, edit.radius);
}

// Whether `edit` sets the species of the cell at `id`.
fn edit_paints(edit: Edit, id: vec2<u32>) -> bool {
    return edit.kind == EDIT_PAINT_SPECIES && inside_disc(id.x, id.y, edit.center, edit.radius);
}

// The payload index of the cell at `id` inside the edit's box, or -1 outside it.
fn edit_box_index(edit: Edit, id: vec2<u32>) -> i32 {
    let local = vec2<i32>(id) - edit.origin;
    if any(local < vec2<i32>(0)) || any(vec2<u32>(local) >= edit.size) {
        return -1;
    }
    return i32(edit.payload) + local.y * i32(edit.size.x) + local.x;
}

// The channel view: a diverging colour map of a value in [-1, 1] over the background.
fn channel_color(value: f32, background: vec3<f32>) -> vec3<f32> {
    let v = clamp(value, -1.0, 1.0);
    return mix(background, select(COOL, WARM, v > 0.0), abs(v));
}

fn species_color(species: u32, presence: f32, background: vec3<f32>) -> vec3<f32> {
    var palette = SPECIES_PALETTE;
    return mix(background, palette[species % SPECIES_PALETTE_LEN], presence);
}
