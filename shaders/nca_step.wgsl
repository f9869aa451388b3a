// One step of the growing NCA in two passes (see src/model/cpu.rs, the reference):
//   update: state -> scratch  (x' = x + dx · fire), and the pre-update alive flag per cell;
//   mask:   scratch -> state  (x' where alive before and after, else zero).
// Splitting the step lets `mask` read every neighbour's updated alpha, and leaves the
// current state in `state` after every step.
#import nca::types::{StepParams, CHANNELS, HIDDEN, PERCEPTION, ALPHA, ALIVE_THRESHOLD, W1, B1, W2, B2, fires}

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> pre_alive: array<u32>;

fn alpha_at(x: i32, y: i32) -> f32 {
    if x < 0 || y < 0 || x >= i32(params.width) || y >= i32(params.height) {
        return 0.0;
    }
    return state[(u32(y) * params.width + u32(x)) * CHANNELS + ALPHA];
}

@compute @workgroup_size(8, 8, 1)
fn update(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let x = i32(id.x);
    let y = i32(id.y);
    let base = (id.y * params.width + id.x) * CHANNELS;

    // Alive before the update (3×3), and whether any cell within two could be: only then can
    // this cell's update reach a cell that survives the mask.
    var pre = false;
    var needed = false;
    for (var dy = -2; dy <= 2; dy++) {
        for (var dx = -2; dx <= 2; dx++) {
            if alpha_at(x + dx, y + dy) > ALIVE_THRESHOLD {
                needed = true;
                if abs(dx) <= 1 && abs(dy) <= 1 {
                    pre = true;
                }
            }
        }
    }
    pre_alive[id.y * params.width + id.x] = select(0u, 1u, pre);

    if !needed || !fires(params.seed, params.step, id.x, id.y, params.fire_threshold) {
        for (var c = 0u; c < CHANNELS; c++) {
            scratch[base + c] = state[base + c];
        }
        return;
    }

    var p: array<f32, PERCEPTION>;
    for (var c = 0u; c < CHANNELS; c++) {
        p[c] = state[base + c];
    }
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
            let nb = (u32(yy) * params.width + u32(xx)) * CHANNELS;
            for (var c = 0u; c < CHANNELS; c++) {
                let v = state[nb + c];
                p[CHANNELS + c] += kx * v;
                p[2u * CHANNELS + c] += ky * v;
            }
        }
    }

    var delta: array<f32, CHANNELS>;
    for (var k = 0u; k < CHANNELS; k++) {
        delta[k] = weights[B2 + k];
    }
    for (var j = 0u; j < HIDDEN; j++) {
        var h = weights[B1 + j];
        for (var i = 0u; i < PERCEPTION; i++) {
            h += p[i] * weights[W1 + i * HIDDEN + j];
        }
        if h > 0.0 {
            for (var k = 0u; k < CHANNELS; k++) {
                delta[k] += h * weights[W2 + j * CHANNELS + k];
            }
        }
    }
    for (var c = 0u; c < CHANNELS; c++) {
        scratch[base + c] = state[base + c] + delta[c];
    }
}

@compute @workgroup_size(8, 8, 1)
fn mask(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    var post = false;
    for (var dy = -1; dy <= 1; dy++) {
        for (var dx = -1; dx <= 1; dx++) {
            let xx = i32(id.x) + dx;
            let yy = i32(id.y) + dy;
            if xx >= 0 && yy >= 0 && xx < i32(params.width) && yy < i32(params.height) {
                if scratch[(u32(yy) * params.width + u32(xx)) * CHANNELS + ALPHA] > ALIVE_THRESHOLD {
                    post = true;
                }
            }
        }
    }
    let cell = id.y * params.width + id.x;
    let keep = post && pre_alive[cell] == 1u;
    let base = cell * CHANNELS;
    for (var c = 0u; c < CHANNELS; c++) {
        state[base + c] = select(0.0, scratch[base + c], keep);
    }
}
