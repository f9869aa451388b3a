//! `#[repr(C)]` twins of the structs in `shaders/nca_types.wgsl`, and the edit queue in the
//! form the shaders read.

use bytemuck::{Pod, Zeroable};

use crate::model::ModelKind;
use crate::model::grid::{Edit, pen_stamp};
use crate::model::kind::LifeRule;
use crate::model::perception::SobelPair;
use crate::model::scenario::reduce::RegionLayout;

/// Twin of WGSL `StepParams`: one entry per dispatch, selected by a dynamic uniform offset.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct GpuStepParams {
    /// Grid width in cells.
    pub width: u32,
    /// Grid height in cells.
    pub height: u32,
    /// The grid's fire-hash seed.
    pub seed: u32,
    /// The step number this dispatch computes.
    pub step: u32,
    /// Number of valid entries in the edits buffer.
    pub edit_count: u32,
    /// Species with weights in the weights buffer; larger ids read as 0.
    pub species_count: u32,
    /// The view's mode code ([`crate::model::View::mode_code`]).
    pub view_mode: u32,
    /// The channel of the channel view.
    pub view_channel: u32,
    /// Index of the edits pass's first edit in the edits buffer.
    pub edit_first: u32,
    /// Keeps the kernels on a 16-byte boundary, as WGSL lays them out.
    pub padding: [u32; 3],
    /// Rows of the rotated Sobel-x kernel (`w` unused).
    pub sobel_x: [[f32; 4]; 3],
    /// Rows of the rotated Sobel-y kernel (`w` unused).
    pub sobel_y: [[f32; 4]; 3],
    /// Display background (`a` unused).
    pub background: [f32; 4],
    /// The display's MNIST class colours, palette chosen and hue rotated (`a` unused).
    pub classes: [[f32; 4]; 10],
}

impl GpuStepParams {
    /// Stores the kernels row by row.
    pub fn set_sobel(&mut self, sobel: &SobelPair) {
        for r in 0..3 {
            self.sobel_x[r] = [sobel.x[r][0], sobel.x[r][1], sobel.x[r][2], 0.0];
            self.sobel_y[r] = [sobel.y[r][0], sobel.y[r][1], sobel.y[r][2], 0.0];
        }
    }

    /// Stores the class colours (computed here once, not per cell in the shader).
    pub fn set_class_colors(&mut self, palette: crate::model::display::ClassPalette, hue_degrees: f32) {
        for (class, slot) in self.classes.iter_mut().enumerate() {
            let [r, g, b] = crate::model::display::class_color(class, palette, hue_degrees);
            *slot = [r, g, b, 0.0];
        }
    }
}

/// Edit codes (`EDIT_*` in the generated WGSL constants).
pub mod edit_code {
    /// `Edit::EraseDisc`.
    pub const ERASE_DISC: u32 = 1;
    /// `Edit::PlantSeed`.
    pub const PLANT_SEED: u32 = 2;
    /// `Edit::Clear`.
    pub const CLEAR: u32 = 3;
    /// `Edit::EraseRect`.
    pub const ERASE_RECT: u32 = 4;
    /// `Edit::Draw`.
    pub const DRAW: u32 = 5;
    /// `Edit::PlaceImage`.
    pub const PLACE_IMAGE: u32 = 6;
    /// `Edit::PaintSpecies`.
    pub const PAINT_SPECIES: u32 = 7;
    /// Every code with its WGSL name.
    pub const ALL: [(&str, u32); 7] = [
        ("EDIT_ERASE_DISC", ERASE_DISC),
        ("EDIT_PLANT_SEED", PLANT_SEED),
        ("EDIT_CLEAR", CLEAR),
        ("EDIT_ERASE_RECT", ERASE_RECT),
        ("EDIT_DRAW", DRAW),
        ("EDIT_PLACE_IMAGE", PLACE_IMAGE),
        ("EDIT_PAINT_SPECIES", PAINT_SPECIES),
    ];
}

/// Twin of WGSL `Edit`: one command; which fields matter depends on `kind`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct GpuEdit {
    /// One of [`edit_code`].
    pub kind: u32,
    /// Disc radius in cells.
    pub radius: f32,
    /// Species of a seed, a pen stroke or a paint.
    pub species: u32,
    /// Index of the box's first value in the payload buffer (`DRAW`, `PLACE_IMAGE`).
    pub payload: u32,
    /// The seed cell (`PLANT_SEED`), or the first cell inside (`ERASE_RECT`).
    pub cell: [u32; 2],
    /// The first cell past the rectangle (`ERASE_RECT`).
    pub cell_end: [u32; 2],
    /// Disc centre in cells.
    pub center: [f32; 2],
    /// The box's first cell (`DRAW`, `PLACE_IMAGE`).
    pub origin: [i32; 2],
    /// The box's size (`DRAW`, `PLACE_IMAGE`).
    pub size: [u32; 2],
}

/// The edit queue as the shaders read it: commands, and the values of the pen's coverage and of
/// placed images, computed here on the CPU with the same functions the CPU reference applies.
pub fn gpu_edits(edits: &[Edit], width: usize, height: usize) -> (Vec<GpuEdit>, Vec<f32>) {
    let mut payload = Vec::new();
    let commands = edits
        .iter()
        .map(|edit| match edit {
            Edit::EraseDisc { center, radius } => {
                GpuEdit { kind: edit_code::ERASE_DISC, center: *center, radius: *radius, ..GpuEdit::default() }
            }
            Edit::PlantSeed { x, y, species } => {
                GpuEdit { kind: edit_code::PLANT_SEED, cell: [*x, *y], species: *species, ..GpuEdit::default() }
            }
            Edit::EraseRect { min, max } => GpuEdit { kind: edit_code::ERASE_RECT, cell: *min, cell_end: *max, ..GpuEdit::default() },
            Edit::Clear => GpuEdit { kind: edit_code::CLEAR, ..GpuEdit::default() },
            Edit::PaintSpecies { center, radius, species } => {
                GpuEdit { kind: edit_code::PAINT_SPECIES, center: *center, radius: *radius, species: *species, ..GpuEdit::default() }
            }
            Edit::Draw { center, radius, species } => {
                let (origin, size, coverage) = pen_stamp(*center, *radius, width, height);
                let at = payload.len() as u32;
                payload.extend(coverage);
                GpuEdit {
                    kind: edit_code::DRAW,
                    species: *species,
                    payload: at,
                    origin: [origin[0] as i32, origin[1] as i32],
                    size,
                    ..GpuEdit::default()
                }
            }
            Edit::PlaceImage(image) => {
                let at = payload.len() as u32;
                payload.extend_from_slice(&image.grey);
                GpuEdit {
                    kind: edit_code::PLACE_IMAGE,
                    payload: at,
                    origin: image.origin,
                    size: [image.width, image.height],
                    ..GpuEdit::default()
                }
            }
        })
        .collect();
    (commands, payload)
}

/// Twin of WGSL `MetricParams` (`shaders/metrics.wgsl`): where the parts of a
/// [`RegionLayout`] sit in the regions buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct GpuMetricParams {
    /// Grid width in cells.
    pub width: u32,
    /// Grid height in cells.
    pub height: u32,
    /// Channels per cell.
    pub channels: u32,
    /// 1 where a cell lives by its 3×3 neighbourhood's labels (the growing rule).
    pub neighbourhood_life: u32,
    /// 1 where the regions buffer starts with a slot per cell.
    pub has_partition: u32,
    /// Rectangles.
    pub rect_count: u32,
    /// Word of the first rectangle (5 words each).
    pub rects_at: u32,
    /// Target windows.
    pub window_count: u32,
    /// Word of the first target window (6 words each).
    pub windows_at: u32,
    /// Word of the first target value.
    pub targets_at: u32,
    /// The first species slot.
    pub species_first: u32,
    /// Species with a slot.
    pub species_count: u32,
}

/// A layout as the metrics shader reads it: its parameters, the regions buffer's words, and the
/// largest target window (the loss pass's dispatch size).
pub fn gpu_regions(layout: &RegionLayout, kind: ModelKind) -> (GpuMetricParams, Vec<u32>, [u32; 2]) {
    let mut words: Vec<u32> = layout.partition.clone().unwrap_or_default();
    let rects_at = words.len() as u32;
    for r in &layout.rects {
        words.extend([r.min[0], r.min[1], r.max[0], r.max[1], r.slot]);
    }
    let mut target_offsets = Vec::with_capacity(layout.targets.len());
    let mut offset = 0u32;
    for t in &layout.targets {
        target_offsets.push(offset);
        offset += t.data.len() as u32;
    }
    let windows_at = words.len() as u32;
    let mut largest = [0u32; 2];
    for w in &layout.windows {
        let t = &layout.targets[w.target];
        let size = [t.width as u32, t.height as u32];
        largest = [largest[0].max(size[0]), largest[1].max(size[1])];
        words.extend([w.origin[0] as u32, w.origin[1] as u32, size[0], size[1], target_offsets[w.target], w.slot]);
    }
    let targets_at = words.len() as u32;
    words.extend(layout.targets.iter().flat_map(|t| t.data.iter().map(|v| v.to_bits())));
    let (species_first, species_count) = layout.species.unwrap_or((0, 0));
    let params = GpuMetricParams {
        width: layout.width,
        height: layout.height,
        channels: kind.channels() as u32,
        neighbourhood_life: matches!(kind.layout().life, LifeRule::Neighbourhood { .. }) as u32,
        has_partition: layout.partition.is_some() as u32,
        rect_count: layout.rects.len() as u32,
        rects_at,
        window_count: layout.windows.len() as u32,
        windows_at,
        targets_at,
        species_first,
        species_count,
    };
    (params, words, largest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::shaders::{composed, composed_source, constants_wgsl};

    fn module(kind: ModelKind) -> naga::Module {
        validated(&composed(kind), &kind.to_string())
    }

    fn validated(source: &str, name: &str) -> naga::Module {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: invalid WGSL: {e:?}"));
        module
    }

    #[test]
    fn the_metrics_shader_validates_and_its_params_match() {
        let m = validated(&composed_source(crate::gpu::shaders::METRICS_WGSL), "metrics");
        for entry in crate::gpu::shaders::METRICS_ENTRY_POINTS {
            assert!(m.entry_points.iter().any(|e| e.name == entry), "metrics: no entry point {entry}");
        }
        assert_eq!(wgsl_struct_size(&m, "MetricParams") as usize, std::mem::size_of::<GpuMetricParams>());
        let wgsl = constants_wgsl();
        use crate::model::scenario::reduce::{SLOT_WORDS, word};
        assert_eq!(wgsl_u32(&wgsl, "SLOT_WORDS"), Some(SLOT_WORDS as u32));
        assert_eq!(wgsl_u32(&wgsl, "SLOT_LOSS_OVERFLOW"), Some(word::LOSS_OVERFLOW as u32));
        assert_eq!(wgsl_u32(&wgsl, "SLOT_VOTES"), Some(word::VOTES as u32));
    }

    fn wgsl_struct_size(module: &naga::Module, name: &str) -> u32 {
        let (handle, _) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        layouter[handle].size
    }

    #[test]
    fn every_kind_shader_parses_validates_and_has_every_entry_point() {
        for kind in ModelKind::ALL {
            let m = module(kind);
            for entry in crate::gpu::shaders::ENTRY_POINTS {
                assert!(m.entry_points.iter().any(|e| e.name == entry), "{kind}: no entry point {entry}");
            }
        }
    }

    /// What every entry point of `module` asks of a device, against WebGPU's default limits (a
    /// browser gives no more unless asked): storage buffers per stage, invocations and memory of
    /// a workgroup, no push constants, and no atomics on floats.
    fn assert_within_webgpu_defaults(module: &naga::Module, name: &str) {
        const MAX_STORAGE_BUFFERS_PER_STAGE: usize = 8;
        const MAX_INVOCATIONS_PER_WORKGROUP: u32 = 256;
        const MAX_WORKGROUP_STORAGE_BYTES: u32 = 16 << 10;
        let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(module)
            .expect("validated above");
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        for (index, entry) in module.entry_points.iter().enumerate() {
            let uses = info.get_entry_point(index);
            let used = |space: fn(&naga::AddressSpace) -> bool| {
                module.global_variables.iter().filter(move |(handle, var)| space(&var.space) && !uses[*handle].is_empty())
            };
            let storage = used(|s| matches!(s, naga::AddressSpace::Storage { .. })).count();
            assert!(storage <= MAX_STORAGE_BUFFERS_PER_STAGE, "{name}::{}: {storage} storage buffers", entry.name);
            let [x, y, z] = entry.workgroup_size;
            assert!(x * y * z <= MAX_INVOCATIONS_PER_WORKGROUP, "{name}::{}: {x}×{y}×{z} invocations", entry.name);
            let shared: u32 = used(|s| matches!(s, naga::AddressSpace::WorkGroup)).map(|(_, v)| layouter[v.ty].size).sum();
            assert!(shared <= MAX_WORKGROUP_STORAGE_BYTES, "{name}::{}: {shared} bytes of workgroup memory", entry.name);
            assert_eq!(used(|s| matches!(s, naga::AddressSpace::Immediate)).count(), 0, "{name}::{}: push constants", entry.name);
        }
        for (_, ty) in module.types.iter() {
            let float_atomic = matches!(ty.inner, naga::TypeInner::Atomic(scalar) if scalar.kind == naga::ScalarKind::Float);
            assert!(!float_atomic, "{name}: an atomic of floats");
        }
    }

    #[test]
    fn every_pipeline_stays_within_webgpus_default_limits() {
        for kind in ModelKind::ALL {
            assert_within_webgpu_defaults(&module(kind), &kind.to_string());
        }
        let metrics = validated(&composed_source(crate::gpu::shaders::METRICS_WGSL), "metrics");
        assert_within_webgpu_defaults(&metrics, "metrics");
    }

    #[test]
    fn rust_twins_match_wgsl_layouts() {
        let m = module(ModelKind::Mnist);
        assert_eq!(wgsl_struct_size(&m, "StepParams") as usize, std::mem::size_of::<GpuStepParams>());
        assert_eq!(wgsl_struct_size(&m, "Edit") as usize, std::mem::size_of::<GpuEdit>());
    }

    /// The value of `const NAME: u32 = Nu;` in WGSL source.
    fn wgsl_u32(source: &str, name: &str) -> Option<u32> {
        let line = source.lines().find(|l| l.starts_with(&format!("const {name}: u32 = ")))?;
        line.rsplit(' ').next()?.trim_end_matches(';').trim_end_matches('u').parse().ok()
    }

    #[test]
    fn generated_constants_are_the_rust_values() {
        let wgsl = constants_wgsl();
        for kind in ModelKind::ALL {
            let prefix = kind.as_str().to_uppercase();
            let layout = kind.layout();
            assert_eq!(wgsl_u32(&wgsl, &format!("{prefix}_CHANNELS")), Some(layout.channels as u32));
            assert_eq!(wgsl_u32(&wgsl, &format!("{prefix}_SPECIES_STRIDE")), Some(layout.species_stride as u32));
        }
        // Every weights block the GPU gets has the stride the shader walks in.
        let growing = crate::model::NcaWeights::Growing(crate::model::GrowingWeights::zeros(Default::default()));
        assert_eq!(growing.species_block().len(), ModelKind::Growing.layout().species_stride);
        let mnist = crate::model::NcaWeights::Mnist(crate::model::MnistWeights::zeros(Default::default()));
        assert_eq!(mnist.species_block().len(), ModelKind::Mnist.layout().species_stride);
        let g = crate::model::GrowingWeights::zeros(Default::default());
        assert_eq!(wgsl_u32(&wgsl, "GROWING_B1"), Some(g.w1.len() as u32));
        assert_eq!(wgsl_u32(&wgsl, "GROWING_B2"), Some((g.w1.len() + g.b1.len() + g.w2.len()) as u32));
        assert_eq!(wgsl_u32(&wgsl, "GROWING_WEIGHTS_LEN"), Some((g.w1.len() + g.b1.len() + g.w2.len() + g.b2.len()) as u32));
        for (name, code) in edit_code::ALL {
            assert_eq!(wgsl_u32(&wgsl, name), Some(code));
        }
        assert_eq!(wgsl_u32(&wgsl, "VIEW_SPECIES"), Some(crate::model::View::Species.mode_code()));
        // The old bug: the species view's code was a channel number. No view code is one now.
        assert_ne!(wgsl_u32(&wgsl, "VIEW_SPECIES"), wgsl_u32(&wgsl, "VIEW_CHANNEL"));
    }

    #[test]
    fn every_edit_has_a_code_and_boxes_index_the_payload() {
        use crate::model::grid::GreyImage;
        let edits = vec![
            Edit::Draw { center: [5.0, 5.0], radius: 2.0, species: 1 },
            Edit::PlaceImage(GreyImage { origin: [-2, 3], width: 3, height: 2, grey: vec![0.5; 6].into() }),
            Edit::Clear,
        ];
        let (commands, payload) = gpu_edits(&edits, 10, 10);
        assert_eq!(commands[0].kind, edit_code::DRAW);
        let drawn = (commands[0].size[0] * commands[0].size[1]) as usize;
        assert_eq!(commands[1].payload as usize, drawn);
        assert_eq!(payload.len(), drawn + 6);
        assert_eq!(commands[1].origin, [-2, 3]);
    }

    #[test]
    fn fire_hash_is_the_same_function_in_wgsl() {
        // The WGSL text must spell the same constants as src/model/fire.rs.
        for constant in ["747796405u", "2891336453u", "277803737u", "pcg(pcg(pcg(pcg(seed) + step) + x) + y)", "131070"] {
            assert!(crate::gpu::shaders::TYPES_WGSL.contains(constant), "{constant}");
        }
    }
}
