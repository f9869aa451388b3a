// Applies the frame's edit commands to the current state, in order, one thread per cell.
// src/model/grid.rs (`Grid::apply`) is the reference for what each command means.
#import nca::types::{StepParams, Edit, CHANNELS, ALPHA, EDIT_ERASE_DISC, EDIT_PLANT_SEED, EDIT_CLEAR, EDIT_ERASE_RECT, inside_disc}

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read> edits: array<Edit>;
@group(0) @binding(6) var<storage, read_write> species: array<u32>;

@compute @workgroup_size(8, 8, 1)
fn apply_edits(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let base = (id.y * params.width + id.x) * CHANNELS;
    for (var e = 0u; e < params.edit_count; e++) {
        let edit = edits[e];
        var erase = false;
        if edit.kind == EDIT_CLEAR {
            erase = true;
        } else if edit.kind == EDIT_ERASE_RECT {
            erase = all(id.xy >= edit.cell) && all(id.xy < edit.cell_end);
        } else if edit.kind == EDIT_ERASE_DISC {
            erase = inside_disc(id.x, id.y, edit.center, edit.radius);
        } else if edit.kind == EDIT_PLANT_SEED && all(edit.cell == id.xy) {
            for (var c = 0u; c < CHANNELS; c++) {
                state[base + c] = select(0.0, 1.0, c >= ALPHA);
            }
            species[id.y * params.width + id.x] = edit.species;
        }
        if erase {
            for (var c = 0u; c < CHANNELS; c++) {
                state[base + c] = 0.0;
            }
        }
    }
}
