//! An `ImageRef` in, the `ImageSource` that reads it out: one module per place images live.
