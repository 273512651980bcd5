//! Image references in, `ImageFacts` out: reads an image's config and the few files the fact
//! readers need from its layers, without ever running it.

pub mod cache;
pub mod facts;
pub mod image;
pub mod layers;
pub mod read;
pub mod source;
pub mod warning;

use std::time::Instant;

use serde::Serialize;

pub use image::{ImageRef, InspectError, Platform, SourceKind, SourceOptions};
pub use read::ImageFacts;

/// How to inspect.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub source: SourceOptions,
    /// Where facts are cached by image digest; `None` disables the cache.
    pub cache: Option<cache::Cache>,
}

/// The outcome for one image: facts, an error, or facts and the error that cut them short.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub reference: String,
    pub facts: Option<ImageFacts>,
    pub error: Option<String>,
    /// Whether the facts came from the cache.
    #[serde(skip)]
    pub cached: bool,
    #[serde(skip)]
    pub millis: u128,
}

/// Steps reported while inspecting, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Config,
    Layers,
    Facts,
}

/// Inspects one image; never fails, errors are part of the result.
pub fn inspect(reference: &str, options: &InspectOptions, progress: &(dyn Fn(Step) + Sync)) -> Inspection {
    let started = Instant::now();
    let finish = |facts: Option<ImageFacts>, error: Option<String>, cached: bool| Inspection {
        reference: reference.to_string(),
        facts,
        error,
        cached,
        millis: started.elapsed().as_millis(),
    };
    let image = ImageRef::parse(reference);
    progress(Step::Config);
    let mut source = match source::open(&image, &options.source) {
        Ok(s) => s,
        Err(e) => return finish(None, Some(e.to_string()), false),
    };
    let config = match source.config() {
        Ok(c) => c,
        Err(e) => return finish(None, Some(e.to_string()), false),
    };
    let key = cache::Key::new(&config, &options.source.platform);
    if let Some(cache) = &options.cache
        && let Some(mut facts) = cache.load(&key)
    {
        facts.reference = reference.to_string();
        facts.source = config.source.clone();
        return finish(Some(facts), None, true);
    }
    progress(Step::Layers);
    let query = match read::wanted_paths(&config.env) {
        Ok(q) => q,
        Err(e) => return finish(None, Some(format!("{reference}: {e}")), false),
    };
    let tree = match source.read_paths(&query) {
        Ok(t) => t,
        Err(e) => return finish(None, Some(e.to_string()), false),
    };
    progress(Step::Facts);
    let (facts, error) = read::read_facts(reference, config, tree.as_ref());
    match error {
        Some(e) => finish(Some(facts), Some(format!("{reference}: {e}")), false),
        None => {
            if let Some(cache) = &options.cache {
                cache.store(&key, &facts);
            }
            finish(Some(facts), None, false)
        }
    }
}
