//! The model library's asset source in a page: the site's files held in memory
//! ([`crate::platform::site`]), so a model loads from the same bytes every other reader sees.

use std::path::{Path, PathBuf};

use bevy::asset::io::{AssetReader, AssetReaderError, AssetSourceBuilder, PathStream, Reader, VecReader};

struct SiteReader;

impl AssetReader for SiteReader {
    async fn read<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        let bytes = crate::platform::site::get(path).ok_or_else(|| AssetReaderError::NotFound(path.to_path_buf()))?;
        Ok(VecReader::new(bytes.to_vec()))
    }

    async fn read_meta<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        // Models carry no `.meta` files (the app sets `AssetMetaCheck::Never`).
        Err::<VecReader, _>(AssetReaderError::NotFound(path.to_path_buf()))
    }

    async fn read_directory<'a>(&'a self, path: &'a Path) -> Result<Box<PathStream>, AssetReaderError> {
        let entries: Vec<PathBuf> = crate::platform::list_dir(path).map_err(|_| AssetReaderError::NotFound(path.to_path_buf()))?;
        Ok(Box::new(futures_lite::stream::iter(entries)))
    }

    async fn is_directory<'a>(&'a self, path: &'a Path) -> Result<bool, AssetReaderError> {
        Ok(crate::platform::is_dir(path))
    }
}

/// The asset source the model library registers in a page.
pub fn site_source() -> AssetSourceBuilder {
    AssetSourceBuilder::new(|| Box::new(SiteReader))
}
