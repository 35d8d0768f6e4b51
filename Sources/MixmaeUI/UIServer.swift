import Foundation
import Hummingbird
import Logging
import MixmaeRuns
import MixmaeSupport

/// The `mixmae ui` web server: Hummingbird serving ``UISite`` over a registry opened
/// read-only, on 127.0.0.1 unless told otherwise.
///
/// ```swift
/// let server = try UIServer(home: URL(fileURLWithPath: ".mixmae"), host: "127.0.0.1", port: 8080)
/// try await server.run { url in print("serving at \(url)") }
/// ```
public struct UIServer {
    public let host: String
    public let port: Int
    let site: UISite

    /// Opens the registry in `home` (default `MIXMAE_HOME`, else `./.mixmae`) read-only.
    /// Throws when there is no registry there, or its schema is not this mixmae's.
    public init(home: URL?, host: String = "127.0.0.1", port: Int = 8080) throws {
        var options = RunRegistry.Options()
        options.readOnly = true
        site = UISite(registry: try RunRegistry(home: home, options: options))
        self.host = host
        self.port = port
    }

    /// The registry folder being served.
    public var home: URL { site.registry.home }

    /// Serves until SIGINT or SIGTERM; `onListening` gets the address once the socket is
    /// bound (with the real port when `port` is 0).
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        let site = self.site
        let host = self.host
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            let answer = site.respond(method: request.method.rawValue, path: request.uri.path, query: request.uri.query)
            var headers = HTTPFields()
            headers[.contentType] = answer.contentType
            headers[.cacheControl] = "no-store"
            headers[.init("X-Content-Type-Options")!] = "nosniff"
            // The only extra headers UISite answers with.
            if let location = answer.headers["Location"] { headers[.location] = location }
            if let disposition = answer.headers["Content-Disposition"] { headers[.contentDisposition] = disposition }
            let body = request.method == .head ? ByteBuffer() : ByteBuffer(bytes: answer.body)
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: body)
            )
        }
        var logger = Logger(label: "mixmae-ui")
        logger.logLevel = .warning
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "mixmae"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                let shown = host.contains(":") ? "[\(host)]" : host
                onListening("http://\(shown):\(bound)/")
            },
            logger: logger)
        do {
            try await app.runService()
        } catch let error as UserFacingError {
            throw error
        } catch {
            throw UIServerError(host: host, port: port, reason: "\(error)")
        }
    }
}

/// The server could not start (the port is taken, the address is not this machine's).
public struct UIServerError: UserFacingError {
    public let host: String
    public let port: Int
    public let reason: String
    public var what: String { "cannot serve on \(host):\(port): \(reason)" }
    public var hint: String? { "pick another port with --port (0 takes a free one), or check --host" }
}
