//! The Java side of logging: the level threshold the Java logger sets.

bridge_fn! {
    jni_only
    /// Forwards native events up to `threshold` (0 none, 1 ERROR ... 5 TRACE)
    /// to java.util.logging.
    fn set_log_threshold(threshold: int) {
        crate::jni::set_threshold(threshold);
        Ok(())
    }
}

bridge_fn! {
    jni_only
    /// The library version; lets the Java loader prove that the library and
    /// its libtorch dependencies resolved.
    fn version() -> string {
        Ok(dlclassifier::VERSION.to_string())
    }
}
