//! An `ImageRef` in, the `ImageSource` that reads it out: one module per place images live.

pub mod docker_archive;
pub mod engine;
pub mod oci;
pub mod overlay;
pub mod registry;
pub mod registry_auth;
pub mod tar_index;

use super::image::{ImageRef, ImageSource, InspectError, SourceKind, SourceOptions};

/// Opens the source an image reference names. A bare `NAME:TAG` goes to the engine when one
/// answers and has the image, else to the registry; the facts say which source answered.
pub fn open(image: &ImageRef, options: &SourceOptions) -> Result<Box<dyn ImageSource>, InspectError> {
    match image.kind {
        Some(SourceKind::Registry) => Ok(Box::new(registry::Registry::open(image, options)?)),
        Some(SourceKind::Docker) => {
            let engine = engine::Engine::connect(options).map_err(|e| for_image(e, image))?;
            Ok(Box::new(engine.source(image)?))
        }
        Some(SourceKind::DockerArchive) => Ok(Box::new(docker_archive::DockerArchive::open(image, options)?)),
        Some(SourceKind::Oci | SourceKind::OciArchive) => Ok(Box::new(oci::OciLayout::open(image, options)?)),
        None => {
            let engine_note = match engine::Engine::connect(options) {
                Ok(engine) => match engine.has_image(&image.location) {
                    Ok(true) => return Ok(Box::new(engine.source(image)?)),
                    Ok(false) => "the Docker engine does not have it".to_string(),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            registry::Registry::open(image, options).map(|r| Box::new(r) as Box<dyn ImageSource>).map_err(|e| {
                InspectError::NotFound {
                    image: image.original.clone(),
                    message: format!("{engine_note}; and from the registry: {e}"),
                }
            })
        }
    }
}

/// Connecting to the engine happens before any image is named; say which image needed it,
/// and how to point dockvar at an engine.
fn for_image(e: InspectError, image: &ImageRef) -> InspectError {
    match e {
        InspectError::Unreachable { endpoint, message, .. } => InspectError::Unreachable {
            image: image.original.clone(),
            endpoint,
            message: format!("{message}; start Docker or set DOCKER_HOST to a running engine"),
        },
        other => other,
    }
}
