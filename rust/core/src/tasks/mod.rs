//! What is specific to one kind of model: its training targets, loss
//! choices, metrics, outputs and post-processing, one folder per task. A task
//! builds on the shared engine (encoders and decoders, the training machinery,
//! backends, tiling, model folders); nothing in the engine depends on a task.
//! A new task is a new folder here, next to `pixel`.

pub mod pixel;
