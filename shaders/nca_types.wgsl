// Types and pure functions shared by every NCA shader.
// Rust twins live in src/gpu/types.rs; a unit test checks that the layouts agree.
#define_import_path nca::types

const CHANNELS: u32 = 16u;
const HIDDEN: u32 = 128u;
const PERCEPTION: u32 = 48u;
const ALPHA: u32 = 3u;
const ALIVE_THRESHOLD: f32 = 0.1;

// Offsets of the growing model's tensors in the flat weights buffer: w1 | b1 | w2 | b2.
const W1: u32 = 0u;
const B1: u32 = 6144u;   // 48 * 128
const W2: u32 = 6272u;   // B1 + 128
const B2: u32 = 8320u;   // W2 + 128 * 16
const WEIGHTS_LEN: u32 = 8336u;
// Each species has one block: its weights, then its fire threshold (u32 bits) in a vec4.
const SPECIES_STRIDE: u32 = 8340u;
// The species palette of the species view (and the panel's legend, src/ui).
const SPECIES_VIEW: u32 = 16u;

const EDIT_ERASE_DISC: u32 = 1u;
const EDIT_PLANT_SEED: u32 = 2u;
const EDIT_CLEAR: u32 = 3u;
const EDIT_ERASE_RECT: u32 = 4u;

// One entry per dispatch (dynamic uniform offset): only `step` differs between steps of a frame.
struct StepParams {
    width: u32,
    height: u32,
    seed: u32,
    step: u32,
    pad_f: u32,           // each species' fire threshold is in its weights block
    edit_count: u32,
    view_channel: u32,
    species_count: u32,
    // Rows of the rotated Sobel kernels (xyz used).
    sobel_x: array<vec4<f32>, 3>,
    sobel_y: array<vec4<f32>, 3>,
    background: vec4<f32>,
}

// One edit command; which fields matter depends on `kind`.
struct Edit {
    kind: u32,
    radius: f32,          // ERASE_DISC
    cell: vec2<u32>,      // PLANT_SEED: the cell; ERASE_RECT: first cell inside
    cell_end: vec2<u32>,  // ERASE_RECT: first cell past the rectangle
    center: vec2<f32>,    // ERASE_DISC
    species: u32,         // PLANT_SEED
    pad_e: u32,
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

fn inside_disc(x: u32, y: u32, center: vec2<f32>, radius: f32) -> bool {
    let d = vec2<f32>(f32(x) + 0.5, f32(y) + 0.5) - center;
    return dot(d, d) < radius * radius;
}
