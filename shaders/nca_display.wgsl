// Writes the grid into its display texture.
// RGB view: RGB is premultiplied by alpha, so a cell shows as background·(1 − a) + rgb.
// Hidden-channel view: a diverging colour map of the channel's value in [-1, 1].
// Species view: each cell in its species' palette colour, weighted by alpha.
#import nca::types::{StepParams, CHANNELS, ALPHA, SPECIES_VIEW}

// The legend in the panel uses the same colours (src/sim/display.rs, SPECIES_PALETTE).
const PALETTE = array<vec3<f32>, 8>(
    vec3<f32>(0.20, 0.60, 0.25),
    vec3<f32>(0.85, 0.35, 0.10),
    vec3<f32>(0.15, 0.40, 0.85),
    vec3<f32>(0.80, 0.15, 0.55),
    vec3<f32>(0.90, 0.75, 0.10),
    vec3<f32>(0.10, 0.70, 0.75),
    vec3<f32>(0.50, 0.30, 0.80),
    vec3<f32>(0.45, 0.45, 0.45),
);

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(6) var<storage, read_write> species: array<u32>;
@group(1) @binding(0) var output: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(8, 8, 1)
fn display(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let base = (id.y * params.width + id.x) * CHANNELS;
    var color: vec3<f32>;
    if params.view_channel == SPECIES_VIEW {
        let a = clamp(state[base + ALPHA], 0.0, 1.0);
        let cell = id.y * params.width + id.x;
        var palette = PALETTE;
        color = mix(params.background.rgb, palette[species[cell] % 8u], a);
    } else if params.view_channel < 4u {
        let a = clamp(state[base + ALPHA], 0.0, 1.0);
        let rgb = vec3<f32>(state[base], state[base + 1u], state[base + 2u]);
        color = clamp(params.background.rgb * (1.0 - a) + rgb, vec3<f32>(0.0), vec3<f32>(1.0));
    } else {
        let v = clamp(state[base + min(params.view_channel, CHANNELS - 1u)], -1.0, 1.0);
        let warm = vec3<f32>(0.85, 0.25, 0.1);
        let cool = vec3<f32>(0.1, 0.35, 0.9);
        color = mix(params.background.rgb, select(cool, warm, v > 0.0), abs(v));
    }
    textureStore(output, vec2<i32>(i32(id.x), i32(id.y)), vec4<f32>(color, 1.0));
}
