// The growing NCA (src/model/cpu.rs is the reference): its step, edits, display and labels.
//
// One step is two passes:
//   update: state -> scratch  (x' = x + dx · fire), and the pre-update alive flag per cell;
//   commit: scratch -> state  (x' where alive before and after, else zero).
// Splitting the step lets `commit` read every neighbour's updated alpha, and leaves the
// current state in `state` after every step.
//
// State and weights are read as vec4 (a cell is 4 vec4: RGBA, then 3 × 4 hidden channels),
// four hidden units are computed at once, and every component still sums its terms in the
// CPU reference's order (neighbours row-major, inputs ascending, hidden units ascending),
// so the two agree to rounding.
//
// Each cell is updated by its species' block of the weights buffer. The species for the step
// is the cell's own if it is living, else that of its living neighbour with the largest alpha
// (src/model/cpu.rs, `species_for_step`); `update` packs it with the pre-alive flag and `commit`
// stores it.
#import nca::types::{StepParams, Edit, fires, edit_erases, edit_paints, channel_color, species_color, GROWING_CHANNELS, GROWING_ALPHA, GROWING_ALIVE_THRESHOLD, GROWING_W1, GROWING_B1, GROWING_W2, GROWING_B2, GROWING_WEIGHTS_LEN, GROWING_SPECIES_STRIDE, EDIT_PLANT_SEED, VIEW_NATURAL, VIEW_SPECIES, LABEL_ALIVE, LABEL_SPECIES_SHIFT}

const CELL_VEC4S: u32 = 4u;        // 16 channels
const HIDDEN_VEC4S: u32 = 32u;     // 128 hidden units

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> scratch: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> weights: array<vec4<f32>>;
// Bit 0: alive before the update; bits 1..: the species the cell was updated as. The labels
// pass writes each cell's label here instead.
@group(0) @binding(4) var<storage, read_write> aux: array<u32>;
@group(0) @binding(5) var<storage, read> edits: array<Edit>;
@group(0) @binding(6) var<storage, read_write> species: array<u32>;
@group(0) @binding(7) var<storage, read> payload: array<f32>;
@group(1) @binding(0) var output: texture_storage_2d<rgba8unorm, write>;

fn alpha_at(x: i32, y: i32) -> f32 {
    if x < 0 || y < 0 || x >= i32(params.width) || y >= i32(params.height) {
        return 0.0;
    }
    return state[(u32(y) * params.width + u32(x)) * CELL_VEC4S].w;
}

@compute @workgroup_size(8, 8, 1)
fn update(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let x = i32(id.x);
    let y = i32(id.y);
    let base = (id.y * params.width + id.x) * CELL_VEC4S;

    // Alive before the update (3×3), and whether any cell within two could be: only then can
    // this cell's update reach a cell that survives the mask.
    var pre = false;
    var needed = false;
    for (var dy = -2; dy <= 2; dy++) {
        for (var dx = -2; dx <= 2; dx++) {
            if alpha_at(x + dx, y + dy) > GROWING_ALIVE_THRESHOLD {
                needed = true;
                if abs(dx) <= 1 && abs(dy) <= 1 {
                    pre = true;
                }
            }
        }
    }
    let cell = id.y * params.width + id.x;
    var kind = species[cell];
    if alpha_at(x, y) <= GROWING_ALIVE_THRESHOLD {
        var best = GROWING_ALIVE_THRESHOLD;
        for (var dy = -1; dy <= 1; dy++) {
            for (var dx = -1; dx <= 1; dx++) {
                let a = alpha_at(x + dx, y + dy);
                if a > best {
                    best = a;
                    kind = species[u32(y + dy) * params.width + u32(x + dx)];
                }
            }
        }
    }
    if kind >= params.species_count {
        kind = 0u;
    }
    aux[cell] = select(0u, 1u, pre) | (kind << 1u);
    // This species' block, in vec4s.
    let wb = kind * (GROWING_SPECIES_STRIDE / 4u);
    let fire_threshold = bitcast<u32>(weights[wb + GROWING_WEIGHTS_LEN / 4u].x);

    if !needed || !fires(params.seed, params.step, id.x, id.y, fire_threshold) {
        for (var c = 0u; c < CELL_VEC4S; c++) {
            scratch[base + c] = state[base + c];
        }
        return;
    }

    // Perception in named registers (private arrays indexed in loops end up in memory on some
    // drivers): s* identity, gx* Sobel-x, gy* Sobel-y, four channels each.
    let s0 = state[base];
    let s1 = state[base + 1u];
    let s2 = state[base + 2u];
    let s3 = state[base + 3u];
    var gx0 = vec4<f32>(0.0);
    var gx1 = vec4<f32>(0.0);
    var gx2 = vec4<f32>(0.0);
    var gx3 = vec4<f32>(0.0);
    var gy0 = vec4<f32>(0.0);
    var gy1 = vec4<f32>(0.0);
    var gy2 = vec4<f32>(0.0);
    var gy3 = vec4<f32>(0.0);
    for (var r = 0; r < 3; r++) {
        let yy = y + r - 1;
        if yy < 0 || yy >= i32(params.height) {
            continue;
        }
        for (var col = 0; col < 3; col++) {
            let xx = x + col - 1;
            if xx < 0 || xx >= i32(params.width) {
                continue;
            }
            let kx = params.sobel_x[r][col];
            let ky = params.sobel_y[r][col];
            let nb = (u32(yy) * params.width + u32(xx)) * CELL_VEC4S;
            let v0 = state[nb];
            let v1 = state[nb + 1u];
            let v2 = state[nb + 2u];
            let v3 = state[nb + 3u];
            gx0 += kx * v0;
            gx1 += kx * v1;
            gx2 += kx * v2;
            gx3 += kx * v3;
            gy0 += ky * v0;
            gy1 += ky * v1;
            gy2 += ky * v2;
            gy3 += ky * v3;
        }
    }

    var d0 = weights[wb + GROWING_B2 / 4u];
    var d1 = weights[wb + GROWING_B2 / 4u + 1u];
    var d2 = weights[wb + GROWING_B2 / 4u + 2u];
    var d3 = weights[wb + GROWING_B2 / 4u + 3u];
    for (var q = 0u; q < HIDDEN_VEC4S; q++) {
        // Hidden units 4q .. 4q+3, inputs in ascending order (filter-major).
        var h = weights[wb + GROWING_B1 / 4u + q];
        h = accumulate(h, s0, wb + 0u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, s1, wb + 1u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, s2, wb + 2u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, s3, wb + 3u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gx0, wb + 4u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gx1, wb + 5u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gx2, wb + 6u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gx3, wb + 7u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gy0, wb + 8u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gy1, wb + 9u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gy2, wb + 10u * 4u * HIDDEN_VEC4S, q);
        h = accumulate(h, gy3, wb + 11u * 4u * HIDDEN_VEC4S, q);
        // ReLU, then hidden → update; w2 row j = 4q + u holds 4 vec4.
        let row = wb + GROWING_W2 / 4u + q * 4u * CELL_VEC4S;
        if h.x > 0.0 {
            d0 += h.x * weights[row];
            d1 += h.x * weights[row + 1u];
            d2 += h.x * weights[row + 2u];
            d3 += h.x * weights[row + 3u];
        }
        if h.y > 0.0 {
            d0 += h.y * weights[row + 4u];
            d1 += h.y * weights[row + 5u];
            d2 += h.y * weights[row + 6u];
            d3 += h.y * weights[row + 7u];
        }
        if h.z > 0.0 {
            d0 += h.z * weights[row + 8u];
            d1 += h.z * weights[row + 9u];
            d2 += h.z * weights[row + 10u];
            d3 += h.z * weights[row + 11u];
        }
        if h.w > 0.0 {
            d0 += h.w * weights[row + 12u];
            d1 += h.w * weights[row + 13u];
            d2 += h.w * weights[row + 14u];
            d3 += h.w * weights[row + 15u];
        }
    }
    scratch[base] = s0 + d0;
    scratch[base + 1u] = s1 + d1;
    scratch[base + 2u] = s2 + d2;
    scratch[base + 3u] = s3 + d3;
}

// Adds four inputs (the components of `p`) times their w1 rows to hidden units 4q .. 4q+3.
// `first_row` is where the first input's row starts (vec4s, species block included): w1 row
// i holds 32 vec4, and unit block q sits at i · 32 + q.
fn accumulate(h: vec4<f32>, p: vec4<f32>, first_row: u32, q: u32) -> vec4<f32> {
    let row = GROWING_W1 / 4u + first_row + q;
    var acc = h;
    acc += p.x * weights[row];
    acc += p.y * weights[row + HIDDEN_VEC4S];
    acc += p.z * weights[row + 2u * HIDDEN_VEC4S];
    acc += p.w * weights[row + 3u * HIDDEN_VEC4S];
    return acc;
}

@compute @workgroup_size(8, 8, 1)
fn commit(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    var post = false;
    for (var dy = -1; dy <= 1; dy++) {
        for (var dx = -1; dx <= 1; dx++) {
            let xx = i32(id.x) + dx;
            let yy = i32(id.y) + dy;
            if xx >= 0 && yy >= 0 && xx < i32(params.width) && yy < i32(params.height) {
                if scratch[(u32(yy) * params.width + u32(xx)) * CELL_VEC4S].w > GROWING_ALIVE_THRESHOLD {
                    post = true;
                }
            }
        }
    }
    let cell = id.y * params.width + id.x;
    let packed = aux[cell];
    let keep = post && (packed & 1u) == 1u;
    species[cell] = packed >> 1u;
    let base = cell * CELL_VEC4S;
    for (var c = 0u; c < CELL_VEC4S; c++) {
        state[base + c] = select(vec4<f32>(0.0), scratch[base + c], keep);
    }
}

// The frame's edit commands, in order, one thread per cell (`Grid::apply_growing` is the
// reference). Growing grids accept erasing, seeds and species paint; other edits are ignored.
@compute @workgroup_size(8, 8, 1)
fn apply_edits(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let base = cell * CELL_VEC4S;
    for (var e = params.edit_first; e < params.edit_first + params.edit_count; e++) {
        let edit = edits[e];
        if edit_erases(edit, id.xy) {
            for (var c = 0u; c < CELL_VEC4S; c++) {
                state[base + c] = vec4<f32>(0.0);
            }
        } else if edit.kind == EDIT_PLANT_SEED && all(edit.cell == id.xy) {
            // RGB zero; alpha and every hidden channel one.
            state[base] = vec4<f32>(0.0, 0.0, 0.0, 1.0);
            for (var c = 1u; c < CELL_VEC4S; c++) {
                state[base + c] = vec4<f32>(1.0);
            }
            species[cell] = edit.species;
        } else if edit_paints(edit, id.xy) {
            species[cell] = edit.species;
        }
    }
}

// State → display texture: RGB is premultiplied by alpha, so a cell shows as
// background · (1 − a) + rgb (src/model/display.rs is the reference).
@compute @workgroup_size(8, 8, 1)
fn display(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let base = cell * CELL_VEC4S;
    let rgba = state[base];
    let a = clamp(rgba.w, 0.0, 1.0);
    let background = params.background.rgb;
    var color: vec3<f32>;
    if params.view_mode == VIEW_SPECIES {
        color = species_color(species[cell], a, background);
    } else if params.view_mode == VIEW_NATURAL {
        color = clamp(background * (1.0 - a) + rgba.rgb, vec3<f32>(0.0), vec3<f32>(1.0));
    } else {
        let c = min(params.view_channel, GROWING_CHANNELS - 1u);
        color = channel_color(state[base + c / 4u][c % 4u], background);
    }
    textureStore(output, vec2<i32>(i32(id.x), i32(id.y)), vec4<f32>(color, 1.0));
}

// Each cell's label word into `aux` (src/model/kind.rs, `LABEL_ALIVE`): alive where its own
// alpha is above the threshold, and its species.
@compute @workgroup_size(8, 8, 1)
fn labels(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let alive = state[cell * CELL_VEC4S].w > GROWING_ALIVE_THRESHOLD;
    aux[cell] = select(0u, LABEL_ALIVE, alive) | (species[cell] << LABEL_SPECIES_SHIFT);
}
