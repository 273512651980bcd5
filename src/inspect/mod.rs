//! Image references in, `ImageFacts` out: reads an image's config and the few files the fact
//! readers need from its layers, without ever running it.

pub mod facts;
pub mod image;
pub mod layers;
pub mod source;
