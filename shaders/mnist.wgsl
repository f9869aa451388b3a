// The self-classifying MNIST NCA (src/model/mnist.rs is the reference): its step, edits,
// display and labels.
//
// A cell is 20 channels, read as 5 vec4: grey, 9 hidden, 10 class scores. One step is two
// passes: `update` computes the new state of the cells that are alive (grey > 0.1) and fire,
// from the old state, into `scratch` and flags them in `aux`; `commit` copies the flagged cells
// back. Dead cells never change; they are still read by their neighbours.
//
//   h  = relu(conv_b + Σ_{ky,kx,c} state[y+ky-1][x+kx-1][c] · conv_w[ky][kx][c])   (80)
//   h2 = relu(b1 + h · w1)                                                       (80)
//   d  = b2 + h2 · w2 + noise                                                    (20; d[0] = 0)
//   state' = state + d
//
// w2 and b2 carry a leading zero column in the weights buffer, so d lines up with the state's
// channels and grey gets exactly 0 added. Each cell runs its own species' block; ids never
// spread. The noise is the shared integer hash (`noise_sum`) times the species' noise scale.
#import nca::types::{StepParams, Edit, fires, cell_hash, noise_sum, edit_erases, edit_paints, edit_box_index, channel_color, species_color, MNIST_CHANNELS, MNIST_LIVE_THRESHOLD, MNIST_UNSURE_THRESHOLD, MNIST_CONV_W, MNIST_CONV_B, MNIST_W1, MNIST_B1, MNIST_W2, MNIST_B2, MNIST_CONSTANTS, MNIST_SPECIES_STRIDE, MNIST_NO_VOTE, EDIT_DRAW, EDIT_PLACE_IMAGE, VIEW_NATURAL, VIEW_SPECIES, LABEL_ALIVE, LABEL_SPECIES_SHIFT}

const CELL_VEC4S: u32 = 5u;     // 20 channels
const HIDDEN_VEC4S: u32 = 20u;  // 80 hidden units

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> scratch: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> weights: array<vec4<f32>>;
// 1 where `update` wrote the cell this step; the labels pass writes each cell's label here.
@group(0) @binding(4) var<storage, read_write> aux: array<u32>;
@group(0) @binding(5) var<storage, read> edits: array<Edit>;
@group(0) @binding(6) var<storage, read_write> species: array<u32>;
@group(0) @binding(7) var<storage, read> payload: array<f32>;
@group(1) @binding(0) var output: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(8, 8, 1)
fn update(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let base = cell * CELL_VEC4S;
    aux[cell] = 0u;
    var kind = species[cell];
    if kind >= params.species_count {
        kind = 0u;
    }
    let wb = kind * (MNIST_SPECIES_STRIDE / 4u);
    let constants = weights[wb + MNIST_CONSTANTS / 4u];
    let threshold = bitcast<u32>(constants.x);
    let noise_scale = constants.y;
    if state[base].x <= MNIST_LIVE_THRESHOLD || !fires(params.seed, params.step, id.x, id.y, threshold) {
        return;
    }

    // The learned 3×3 perception: 180 inputs (neighbour-major, then channel) to 80 units.
    var h: array<vec4<f32>, 20>;
    for (var q = 0u; q < HIDDEN_VEC4S; q++) {
        h[q] = weights[wb + MNIST_CONV_B / 4u + q];
    }
    for (var ky = 0u; ky < 3u; ky++) {
        let yy = i32(id.y) + i32(ky) - 1;
        if yy < 0 || yy >= i32(params.height) {
            continue;
        }
        for (var kx = 0u; kx < 3u; kx++) {
            let xx = i32(id.x) + i32(kx) - 1;
            if xx < 0 || xx >= i32(params.width) {
                continue;
            }
            let nb = (u32(yy) * params.width + u32(xx)) * CELL_VEC4S;
            for (var k = 0u; k < CELL_VEC4S; k++) {
                let v = state[nb + k];
                // Rows of input channels 4k .. 4k+3 of this neighbour; a row holds 20 vec4.
                let row = wb + MNIST_CONV_W / 4u + ((ky * 3u + kx) * MNIST_CHANNELS + 4u * k) * HIDDEN_VEC4S;
                for (var q = 0u; q < HIDDEN_VEC4S; q++) {
                    h[q] += v.x * weights[row + q]
                        + v.y * weights[row + HIDDEN_VEC4S + q]
                        + v.z * weights[row + 2u * HIDDEN_VEC4S + q]
                        + v.w * weights[row + 3u * HIDDEN_VEC4S + q];
                }
            }
        }
    }

    var h2: array<vec4<f32>, 20>;
    for (var q = 0u; q < HIDDEN_VEC4S; q++) {
        h2[q] = weights[wb + MNIST_B1 / 4u + q];
    }
    for (var i = 0u; i < HIDDEN_VEC4S * 4u; i++) {
        let hi = max(h[i / 4u][i % 4u], 0.0);
        if hi > 0.0 {
            let row = wb + MNIST_W1 / 4u + i * HIDDEN_VEC4S;
            for (var q = 0u; q < HIDDEN_VEC4S; q++) {
                h2[q] += hi * weights[row + q];
            }
        }
    }

    var d: array<vec4<f32>, 5>;
    for (var k = 0u; k < CELL_VEC4S; k++) {
        d[k] = weights[wb + MNIST_B2 / 4u + k];
    }
    for (var i = 0u; i < HIDDEN_VEC4S * 4u; i++) {
        let hi = max(h2[i / 4u][i % 4u], 0.0);
        if hi > 0.0 {
            let row = wb + MNIST_W2 / 4u + i * CELL_VEC4S;
            for (var k = 0u; k < CELL_VEC4S; k++) {
                d[k] += hi * weights[row + k];
            }
        }
    }
    if noise_scale != 0.0 {
        let hash = cell_hash(params.seed, params.step, id.x, id.y);
        for (var c = 1u; c < MNIST_CHANNELS; c++) {
            d[c / 4u][c % 4u] += f32(noise_sum(hash, c - 1u)) * noise_scale;
        }
    }
    for (var k = 0u; k < CELL_VEC4S; k++) {
        scratch[base + k] = state[base + k] + d[k];
    }
    aux[cell] = 1u;
}

@compute @workgroup_size(8, 8, 1)
fn commit(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    if aux[cell] == 1u {
        let base = cell * CELL_VEC4S;
        for (var k = 0u; k < CELL_VEC4S; k++) {
            state[base + k] = scratch[base + k];
        }
    }
}

// The frame's edit commands, in order, one thread per cell (src/model/mnist.rs, `apply_edit`,
// is the reference). The pen's coverage and a placed image's greys come in `payload`, computed
// on the CPU, so both sides apply the same values.
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
            for (var k = 0u; k < CELL_VEC4S; k++) {
                state[base + k] = vec4<f32>(0.0);
            }
        } else if edit_paints(edit, id.xy) {
            species[cell] = edit.species;
        } else if edit.kind == EDIT_DRAW {
            let at = edit_box_index(edit, id.xy);
            if at >= 0 && payload[at] > 0.0 {
                // state · (1 − s) + [s, 0, …, 0]
                let s = payload[at];
                let keep = 1.0 - s;
                for (var k = 0u; k < CELL_VEC4S; k++) {
                    state[base + k] = state[base + k] * keep;
                }
                state[base].x = state[base].x + s;
                species[cell] = edit.species;
            }
        } else if edit.kind == EDIT_PLACE_IMAGE {
            let at = edit_box_index(edit, id.xy);
            if at >= 0 {
                // Grey replaced; the rest kept only where the new grey is alive.
                let grey = payload[at];
                if grey <= MNIST_LIVE_THRESHOLD {
                    for (var k = 0u; k < CELL_VEC4S; k++) {
                        state[base + k] = vec4<f32>(0.0);
                    }
                }
                state[base].x = grey;
            }
        }
    }
}

// The class argmax (first of equal maxima) and the notebook's vote (slot 10 for dead cells and
// living cells whose scores are all below zero).
fn vote_of(base: u32) -> vec2<u32> {
    var best = state[base + 2u].z;
    var best_class = 0u;
    for (var i = 1u; i < 10u; i++) {
        let c = 10u + i;
        let s = state[base + c / 4u][c % 4u];
        if s > best {
            best = s;
            best_class = i;
        }
    }
    let alive = state[base].x > MNIST_LIVE_THRESHOLD;
    let vote = select(MNIST_NO_VOTE, best_class, alive && best >= 0.0);
    return vec2<u32>(best_class, vote);
}

// State → display texture: a living cell in its class colour (hue-rotated) with opacity =
// grey, unsure cells (every score below the threshold) in the unsure ink, dead cells as
// background (src/model/display.rs is the reference).
@compute @workgroup_size(8, 8, 1)
fn display(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let base = cell * CELL_VEC4S;
    let grey = state[base].x;
    let presence = select(0.0, clamp(grey, 0.0, 1.0), grey > MNIST_LIVE_THRESHOLD);
    let background = params.background.rgb;
    var color = background;
    if params.view_mode == VIEW_SPECIES {
        color = species_color(species[cell], presence, background);
    } else if params.view_mode == VIEW_NATURAL {
        if presence > 0.0 {
            let winner = vote_of(base).x;
            let c = 10u + winner;
            var ink: vec3<f32>;
            if state[base + c / 4u][c % 4u] < MNIST_UNSURE_THRESHOLD {
                let luminance = dot(background, vec3<f32>(0.2126, 0.7152, 0.0722));
                ink = select(vec3<f32>(0.62), vec3<f32>(0.08), luminance > 0.5);
            } else {
                ink = params.classes[winner].rgb;
            }
            color = mix(background, ink, presence);
        }
    } else if params.view_channel == 0u {
        // The grey input alone, as ink.
        let luminance = dot(background, vec3<f32>(0.2126, 0.7152, 0.0722));
        color = mix(background, select(vec3<f32>(0.62), vec3<f32>(0.08), luminance > 0.5), presence);
    } else {
        // Hidden channels are unbounded: squashed as the paper plots them, 2/π·atan(v).
        let c = min(params.view_channel, MNIST_CHANNELS - 1u);
        color = channel_color(atan(state[base + c / 4u][c % 4u]) * 0.63661977, background);
    }
    textureStore(output, vec2<i32>(i32(id.x), i32(id.y)), vec4<f32>(color, 1.0));
}

// Each cell's label word into `aux` (src/model/mnist.rs, `CellLabel::pack`): bits 0–3 the
// class argmax, 4–7 the vote, 8 alive, the species from LABEL_SPECIES_SHIFT.
@compute @workgroup_size(8, 8, 1)
fn labels(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let cell = id.y * params.width + id.x;
    let base = cell * CELL_VEC4S;
    let v = vote_of(base);
    let alive = state[base].x > MNIST_LIVE_THRESHOLD;
    aux[cell] = v.x | (v.y << 4u) | select(0u, LABEL_ALIVE, alive) | (species[cell] << LABEL_SPECIES_SHIFT);
}
