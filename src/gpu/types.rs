//! `#[repr(C)]` twins of the structs in `shaders/nca_types.wgsl`.

use bytemuck::{Pod, Zeroable};

use crate::model::grid::Edit;
use crate::model::perception::SobelPair;

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
    /// Padding (`pad_f` in WGSL): each species' fire threshold lives in its weights block.
    pub _pad_f: u32,
    /// Number of valid entries in the edits buffer.
    pub edit_count: u32,
    /// Channel to display (0–3: RGB view).
    pub view_channel: u32,
    /// Species with weights in the weights buffer; larger ids read as 0.
    pub species_count: u32,
    /// Rows of the rotated Sobel-x kernel (`w` unused).
    pub sobel_x: [[f32; 4]; 3],
    /// Rows of the rotated Sobel-y kernel (`w` unused).
    pub sobel_y: [[f32; 4]; 3],
    /// Display background (linear RGB, `a` unused).
    pub background: [f32; 4],
}

impl GpuStepParams {
    /// Stores the kernels row by row.
    pub fn set_sobel(&mut self, sobel: &SobelPair) {
        for r in 0..3 {
            self.sobel_x[r] = [sobel.x[r][0], sobel.x[r][1], sobel.x[r][2], 0.0];
            self.sobel_y[r] = [sobel.y[r][0], sobel.y[r][1], sobel.y[r][2], 0.0];
        }
    }
}

/// Edit kinds, as in `nca_types.wgsl`.
pub mod edit_kind {
    /// `Edit::EraseDisc`.
    pub const ERASE_DISC: u32 = 1;
    /// `Edit::PlantSeed`.
    pub const PLANT_SEED: u32 = 2;
    /// `Edit::Clear`.
    pub const CLEAR: u32 = 3;
    /// `Edit::EraseRect`.
    pub const ERASE_RECT: u32 = 4;
}

/// Twin of WGSL `Edit`: one command; which fields matter depends on `kind`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct GpuEdit {
    /// One of [`edit_kind`].
    pub kind: u32,
    /// Disc radius in cells (`ERASE_DISC`).
    pub radius: f32,
    /// The seed cell (`PLANT_SEED`), or the first cell inside (`ERASE_RECT`).
    pub cell: [u32; 2],
    /// The first cell past the rectangle (`ERASE_RECT`).
    pub cell_end: [u32; 2],
    /// Disc centre in cells (`ERASE_DISC`).
    pub center: [f32; 2],
    /// Species of the seed (`PLANT_SEED`).
    pub species: u32,
    /// Padding (`pad_e` in WGSL).
    pub _pad: u32,
}

impl From<&Edit> for GpuEdit {
    fn from(edit: &Edit) -> Self {
        match *edit {
            Edit::EraseDisc { center, radius } => Self { kind: edit_kind::ERASE_DISC, center, radius, ..Self::default() },
            Edit::PlantSeed { x, y, species } => Self { kind: edit_kind::PLANT_SEED, cell: [x, y], species, ..Self::default() },
            Edit::EraseRect { min, max } => Self { kind: edit_kind::ERASE_RECT, cell: min, cell_end: max, ..Self::default() },
            Edit::Clear => Self { kind: edit_kind::CLEAR, ..Self::default() },
        }
    }
}

/// Floats per species in the weights buffer: `w1 | b1 | w2 | b2 | fire threshold, 0, 0, 0`
/// (offsets in `nca_types.wgsl`; a multiple of 4 so every block starts on a `vec4`).
pub const SPECIES_STRIDE: usize = 8340;

/// The growing model flattened for the GPU: `w1 | b1 | w2 | b2` (offsets in `nca_types.wgsl`).
pub fn flatten_growing(w: &crate::model::GrowingWeights) -> Vec<f32> {
    [&w.w1[..], &w.b1, &w.w2, &w.b2].concat()
}

/// One species' block of the weights buffer: the flat weights, then its integer fire
/// threshold stored bit for bit in a float slot.
pub fn species_block(w: &crate::model::GrowingWeights) -> Vec<f32> {
    let mut block = flatten_growing(w);
    block.push(f32::from_bits(crate::model::fire::threshold(w.spec.fire_rate)));
    block.resize(SPECIES_STRIDE, 0.0);
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::shaders::{DISPLAY_WGSL, EDIT_WGSL, STEP_WGSL, composed};

    fn module(job: &str) -> naga::Module {
        let source = composed(job);
        let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{}", e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("invalid WGSL: {e:?}"));
        module
    }

    fn wgsl_struct_size(module: &naga::Module, name: &str) -> u32 {
        let (handle, _) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        layouter[handle].size
    }

    #[test]
    fn every_shader_parses_and_validates() {
        for job in [STEP_WGSL, EDIT_WGSL, DISPLAY_WGSL] {
            module(job);
        }
    }

    #[test]
    fn rust_twins_match_wgsl_layouts() {
        let m = module(EDIT_WGSL);
        assert_eq!(wgsl_struct_size(&m, "StepParams") as usize, std::mem::size_of::<GpuStepParams>());
        assert_eq!(wgsl_struct_size(&m, "Edit") as usize, std::mem::size_of::<GpuEdit>());
    }

    #[test]
    fn weight_offsets_match_the_shader_constants() {
        let w = crate::model::GrowingWeights::zeros(Default::default());
        let flat = flatten_growing(&w);
        assert_eq!(flat.len(), 8336);
        assert!(crate::gpu::shaders::TYPES_WGSL.contains(&format!("const B1: u32 = {}u;", w.w1.len())));
        assert!(crate::gpu::shaders::TYPES_WGSL.contains(&format!("const W2: u32 = {}u;", w.w1.len() + w.b1.len())));
        assert!(crate::gpu::shaders::TYPES_WGSL.contains(&format!("const B2: u32 = {}u;", w.w1.len() + w.b1.len() + w.w2.len())));
        assert!(crate::gpu::shaders::TYPES_WGSL.contains(&format!("const SPECIES_STRIDE: u32 = {SPECIES_STRIDE}u;")));
        let block = species_block(&w);
        assert_eq!(block.len(), SPECIES_STRIDE);
        assert_eq!(block[flat.len()].to_bits(), crate::model::fire::threshold(w.spec.fire_rate));
    }

    #[test]
    fn fire_hash_is_the_same_function_in_wgsl() {
        // The WGSL text must spell the same constants as src/model/fire.rs.
        for constant in ["747796405u", "2891336453u", "277803737u", "pcg(pcg(pcg(pcg(seed) + step) + x) + y)"] {
            assert!(crate::gpu::shaders::TYPES_WGSL.contains(constant), "{constant}");
        }
    }
}
