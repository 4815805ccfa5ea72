import CMicroHTTPD

/// A libmicrohttpd connection pointer carried to the task that answers it.
///
/// `@unchecked Sendable` is safe because the only call made through it off libmicrohttpd's
/// thread is `MHD_resume_connection`, which libmicrohttpd documents as callable from any
/// thread, and it is made only while the connection is suspended, when libmicrohttpd
/// cannot close or free it (the server never stops the daemon with a suspended connection).
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    func suspend() { MHD_suspend_connection(pointer) }
    func resume() { MHD_resume_connection(pointer) }
}
