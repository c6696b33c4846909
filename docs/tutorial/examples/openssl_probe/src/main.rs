// Prints the version number of the OpenSSL library this program was linked against.
fn main() {
    // SAFETY: OpenSSL_version_num takes no arguments and only returns a constant.
    let version = unsafe { openssl_sys::OpenSSL_version_num() };
    println!("OpenSSL_version_num = {version:#x}");
}
