//! JNI and C entry points; filled in by the embedding work (issue 4).
