//! How a grid is drawn: a texture the GPU writes each frame, shown by a sprite.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages, TextureViewDescriptor};

use super::CaGrid;
use crate::model::View;

/// Light background (the Distill demo's white).
pub const LIGHT_BACKGROUND: [f32; 3] = [1.0, 1.0, 1.0];
/// Dark background, for installations in dim rooms.
pub const DARK_BACKGROUND: [f32; 3] = [0.06, 0.06, 0.08];

pub use crate::model::display::SPECIES_PALETTE;

/// A grid's display texture and how to fill it.
#[derive(Component, Clone, Debug)]
pub struct GridDisplay {
    /// The texture (nearest-neighbour sampled, written by the display shader).
    pub image: Handle<Image>,
    /// Background behind transparent cells.
    pub background: [f32; 3],
    /// What to show.
    pub view: View,
    /// Rotation of the MNIST class palette's hue, in degrees.
    pub hue_degrees: f32,
    /// The MNIST class palette.
    pub palette: crate::model::display::ClassPalette,
}

/// A texture the display shader can write and a sprite can sample, one texel per cell.
///
/// Cell colours are sRGB-encoded (like the emoji they learned), but storage textures cannot be
/// sRGB. So the texture is plain `Rgba8Unorm` for the shader's writes, and the view sprites
/// sample is `Rgba8UnormSrgb`, which decodes the same bytes as sRGB.
pub fn display_image(width: u32, height: u32) -> Image {
    let mut image = Image::new_fill(
        Extent3d { width, height, depth_or_array_layers: 1 },
        TextureDimension::D2,
        &[255, 255, 255, 255],
        TextureFormat::Rgba8Unorm,
        RenderAssetUsages::RENDER_WORLD,
    );
    // COPY_SRC lets tests, screenshots of a single grid and exhibit checks read it back.
    image.texture_descriptor.usage =
        TextureUsages::STORAGE_BINDING | TextureUsages::TEXTURE_BINDING | TextureUsages::COPY_DST | TextureUsages::COPY_SRC;
    image.texture_descriptor.view_formats = &[TextureFormat::Rgba8UnormSrgb];
    image.texture_view_descriptor = Some(TextureViewDescriptor {
        format: Some(TextureFormat::Rgba8UnormSrgb),
        usage: Some(TextureUsages::TEXTURE_BINDING),
        ..default()
    });
    image.sampler = ImageSampler::nearest();
    image
}

/// Gives every grid without a display a texture and a sprite; replaces the texture when the
/// grid is resized.
pub(crate) fn attach_displays(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut grids: Query<(Entity, &CaGrid, Option<&mut GridDisplay>, Option<&mut Sprite>)>,
) {
    for (entity, grid, display, sprite) in &mut grids {
        match display {
            None => {
                let image = images.add(display_image(grid.width, grid.height));
                commands.entity(entity).insert((
                    GridDisplay {
                        image: image.clone(),
                        background: LIGHT_BACKGROUND,
                        view: View::Natural,
                        hue_degrees: 0.0,
                        palette: default(),
                    },
                    Sprite::from_image(image),
                ));
            }
            Some(mut display) => {
                let size = images.get(&display.image).map(|i| (i.width(), i.height()));
                if size != Some((grid.width, grid.height)) {
                    display.image = images.add(display_image(grid.width, grid.height));
                    if let Some(mut sprite) = sprite {
                        sprite.image = display.image.clone();
                    }
                }
            }
        }
    }
}
