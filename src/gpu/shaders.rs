//! The WGSL sources, compiled into the binary so an installed build needs no shader files.

use bevy::asset::{Assets, Handle};
use bevy::ecs::resource::Resource;
use bevy::shader::Shader;

/// `shaders/nca_types.wgsl`: shared types and the fire hash.
pub const TYPES_WGSL: &str = include_str!("../../shaders/nca_types.wgsl");
/// `shaders/nca_step.wgsl`: the update and mask passes.
pub const STEP_WGSL: &str = include_str!("../../shaders/nca_step.wgsl");
/// `shaders/nca_edit.wgsl`: edit commands.
pub const EDIT_WGSL: &str = include_str!("../../shaders/nca_edit.wgsl");
/// `shaders/nca_display.wgsl`: state → display texture.
pub const DISPLAY_WGSL: &str = include_str!("../../shaders/nca_display.wgsl");

/// Strong handles to the NCA shaders (kept alive for the app's lifetime).
#[derive(Resource, Clone)]
pub struct NcaShaders {
    /// The imported types module; held so `#import nca::types` resolves.
    pub types: Handle<Shader>,
    /// Step shader.
    pub step: Handle<Shader>,
    /// Edit shader.
    pub edit: Handle<Shader>,
    /// Display shader.
    pub display: Handle<Shader>,
}

impl NcaShaders {
    /// Adds the sources to the shader assets.
    pub fn add_to(shaders: &mut Assets<Shader>) -> Self {
        Self {
            types: shaders.add(Shader::from_wgsl(TYPES_WGSL, "shaders/nca_types.wgsl")),
            step: shaders.add(Shader::from_wgsl(STEP_WGSL, "shaders/nca_step.wgsl")),
            edit: shaders.add(Shader::from_wgsl(EDIT_WGSL, "shaders/nca_edit.wgsl")),
            display: shaders.add(Shader::from_wgsl(DISPLAY_WGSL, "shaders/nca_display.wgsl")),
        }
    }
}

/// The job shader with the types module pasted in place of its `#import` line: plain WGSL that
/// naga can validate without Bevy's preprocessor (used by tests and tools).
pub fn composed(job: &str) -> String {
    let types: String = TYPES_WGSL.lines().filter(|l| !l.starts_with("#define_import_path")).collect::<Vec<_>>().join("\n");
    let body: String = job.lines().filter(|l| !l.starts_with("#import")).collect::<Vec<_>>().join("\n");
    format!("{types}\n{body}")
}
