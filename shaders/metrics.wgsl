// Region sums for scenario metrics, shared by every kind (src/model/scenario/reduce.rs is the
// reference). It runs after the kind's `labels` pass, so it learns each cell's life and class
// from the label word and needs nothing kind-specific but the life rule's reach.
//
// Every value is summed in f32 over a cell's channels, cut to fixed point (32 fractional bits)
// and added with integer atomics across three words (fraction, integer, carry). Integer sums do
// not depend on the order of the additions, so the result is exact and the same every run.
#import nca::types::{LABEL_ALIVE, LABEL_SPECIES_SHIFT, NO_SLOT, SLOT_WORDS, SLOT_MEMBERS, SLOT_ALIVE, SLOT_STATE, SLOT_UPDATE, SLOT_LOSS, SLOT_VOTES, SLOT_STATE_OVERFLOW, SLOT_UPDATE_OVERFLOW, SLOT_LOSS_OVERFLOW, MAX_CELL_VALUE}

// Twin of src/gpu/types.rs `GpuMetricParams`.
struct MetricParams {
    width: u32,
    height: u32,
    channels: u32,
    // 1: a cell is alive when a label of its 3×3 neighbourhood says so (the growing rule);
    // 0: when its own does.
    neighbourhood_life: u32,
    // Whether `regions` starts with one slot per cell (NO_SLOT: none).
    has_partition: u32,
    rect_count: u32,
    // Word of the first rectangle: min x, min y, max x, max y, slot.
    rects_at: u32,
    window_count: u32,
    // Word of the first target window: origin x, origin y (i32), width, height, first value of
    // its RGBA target (f32 bits, from targets_at), slot.
    windows_at: u32,
    targets_at: u32,
    species_first: u32,
    // Species with a slot (0: none).
    species_count: u32,
}

@group(0) @binding(0) var<uniform> params: MetricParams;
@group(0) @binding(1) var<storage, read> state: array<f32>;
// The state at the previous reduction: the update is measured against it.
@group(0) @binding(2) var<storage, read> previous: array<f32>;
// The kind's label words (its `labels` pass ran just before).
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> regions: array<u32>;
@group(0) @binding(5) var<storage, read_write> sums: array<atomic<u32>>;

fn living(x: i32, y: i32) -> bool {
    if x < 0 || y < 0 || x >= i32(params.width) || y >= i32(params.height) {
        return false;
    }
    return (labels[u32(y) * params.width + u32(x)] & LABEL_ALIVE) != 0u;
}

fn alive_at(id: vec2<u32>) -> bool {
    if params.neighbourhood_life == 0u {
        return living(i32(id.x), i32(id.y));
    }
    for (var dy = -1; dy <= 1; dy++) {
        for (var dx = -1; dx <= 1; dx++) {
            if living(i32(id.x) + dx, i32(id.y) + dy) {
                return true;
            }
        }
    }
    return false;
}

// Adds `v` (≥ 0) to the fixed-point sum at word `at`, or counts it at `overflow` when it is not
// finite or too large for one word's integer part. Bits, not comparisons, find NaN and ∞:
// WGSL lets an implementation assume floats are finite.
fn add_fixed(at: u32, overflow: u32, v: f32) {
    if (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u || !(v < MAX_CELL_VALUE) {
        atomicAdd(&sums[overflow], 1u);
        return;
    }
    let whole = floor(v);
    let fraction = u32(min((v - whole) * 4294967296.0, MAX_CELL_VALUE));
    var carry = 0u;
    if fraction != 0u {
        let old = atomicAdd(&sums[at], fraction);
        carry = select(0u, 1u, old + fraction < old);
    }
    let integer = u32(whole) + carry;
    if integer != 0u {
        let old = atomicAdd(&sums[at + 1u], integer);
        if old + integer < old {
            atomicAdd(&sums[at + 2u], 1u);
        }
    }
}

fn add_living_cell(slot: u32, abs_state: f32, abs_update: f32, vote_class: u32) {
    let base = slot * SLOT_WORDS;
    atomicAdd(&sums[base + SLOT_ALIVE], 1u);
    add_fixed(base + SLOT_STATE, base + SLOT_STATE_OVERFLOW, abs_state);
    add_fixed(base + SLOT_UPDATE, base + SLOT_UPDATE_OVERFLOW, abs_update);
    if vote_class < 10u {
        atomicAdd(&sums[base + SLOT_VOTES + vote_class], 1u);
    }
}

// One thread per cell: its living sums into each slot it belongs to (its species', its
// partition slot, each rectangle holding it).
@compute @workgroup_size(8, 8, 1)
fn measure_cells(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let label = labels[cell];
    let species = label >> LABEL_SPECIES_SHIFT;
    let has_species_slot = species < params.species_count;
    if has_species_slot {
        atomicAdd(&sums[(params.species_first + species) * SLOT_WORDS + SLOT_MEMBERS], 1u);
    }
    if !alive_at(id.xy) {
        return;
    }
    var abs_state = 0.0;
    var abs_update = 0.0;
    let first = cell * params.channels;
    for (var c = 0u; c < params.channels; c++) {
        abs_state += abs(state[first + c]);
        abs_update += abs(state[first + c] - previous[first + c]);
    }
    let vote_class = label & 0xfu;
    if has_species_slot {
        add_living_cell(params.species_first + species, abs_state, abs_update, vote_class);
    }
    if params.has_partition != 0u {
        let slot = regions[cell];
        if slot != NO_SLOT {
            add_living_cell(slot, abs_state, abs_update, vote_class);
        }
    }
    for (var r = 0u; r < params.rect_count; r++) {
        let at = params.rects_at + 5u * r;
        if id.x >= regions[at] && id.y >= regions[at + 1u] && id.x < regions[at + 2u] && id.y < regions[at + 3u] {
            add_living_cell(regions[at + 4u], abs_state, abs_update, vote_class);
        }
    }
}

// One thread per target pixel, one z layer per window: Σ (RGBA − target)² into the window's
// slot. Pixels past the grid's edge compare the target with an empty cell.
@compute @workgroup_size(8, 8, 1)
fn measure_loss(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.z >= params.window_count {
        return;
    }
    let at = params.windows_at + 6u * id.z;
    let size = vec2<u32>(regions[at + 2u], regions[at + 3u]);
    if id.x >= size.x || id.y >= size.y {
        return;
    }
    let cell = vec2<i32>(bitcast<i32>(regions[at]), bitcast<i32>(regions[at + 1u])) + vec2<i32>(id.xy);
    let inside = cell.x >= 0 && cell.y >= 0 && cell.x < i32(params.width) && cell.y < i32(params.height);
    let target_first = params.targets_at + regions[at + 4u] + 4u * (id.y * size.x + id.x);
    var error = 0.0;
    for (var c = 0u; c < 4u; c++) {
        var value = 0.0;
        if inside {
            value = state[(u32(cell.y) * params.width + u32(cell.x)) * params.channels + c];
        }
        let d = value - bitcast<f32>(regions[target_first + c]);
        error += d * d;
    }
    let base = regions[at + 5u] * SLOT_WORDS;
    add_fixed(base + SLOT_LOSS, base + SLOT_LOSS_OVERFLOW, error);
}
