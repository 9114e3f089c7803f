//! `NativeLibrary.nativeVersion()`: the cheapest real call into the library,
//! which lets the Java loader (and its bare-process test) prove that the
//! library and its libtorch dependencies resolved.

use jni::objects::{JClass, JString};
use jni::EnvUnowned;

#[no_mangle]
pub extern "system" fn Java_org_dlclassifier_NativeLibrary_nativeVersion<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    super::call(env, |env| Ok(JString::from_str(env, dlclassifier::VERSION)?))
}
