import Foundation
import MixmaeSupport

/// One HTTP answer of the UI, independent of the server library: status, content type,
/// body bytes and extra headers.
///
/// ```swift
/// let page = UIResponse.html("<p>hello</p>")
/// let api = try UIResponse.json(runs)       // the bytes `--format json` prints
/// ```
package struct UIResponse: Equatable {
    package var status: Int
    package var contentType: String
    package var body: [UInt8]
    package var headers: [String: String] = [:]

    package init(status: Int, contentType: String, body: [UInt8], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    /// The body as text (for HTML, JSON and DOT answers).
    package var text: String { String(decoding: body, as: UTF8.self) }

    package static func html(_ text: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
    }

    package static func plain(_ text: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    /// `value` encoded exactly as the commands' `--format json` prints it (``JSONOutput``).
    package static func json<T: Encodable>(_ value: T, status: Int = 200) throws -> UIResponse {
        jsonText(try JSONOutput.encode(value), status: status)
    }

    package static func jsonText(_ text: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "application/json; charset=utf-8", body: Array(text.utf8))
    }

    package static func redirect(to location: String) -> UIResponse {
        UIResponse(
            status: 303, contentType: "text/plain; charset=utf-8", body: Array("see \(location)\n".utf8),
            headers: ["Location": location])
    }
}

/// A request the UI refuses, with the HTTP status it answers and a message that says what
/// to do.
package struct UIRequestError: Error, CustomStringConvertible {
    package let status: Int
    package let message: String

    package init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    package var description: String { message }

    package static func notFound(_ message: String) -> UIRequestError { UIRequestError(status: 404, message) }
    package static func badRequest(_ message: String) -> UIRequestError { UIRequestError(status: 400, message) }
}

/// A query string (`?task=classify&metrics=top1,loss`), decoded: `+` is a space, `%XX` a byte.
package struct UIQuery {
    private var values: [String: [String]] = [:]

    package init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            values[key, default: []].append(value)
        }
    }

    /// The last value of `key`, nil when absent or empty.
    package subscript(_ key: String) -> String? {
        guard let value = values[key]?.last, !value.isEmpty else { return nil }
        return value
    }

    /// Every value of `key` split at commas, trimmed, without empty items.
    package func list(_ key: String) -> [String] {
        (values[key] ?? []).flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    package func has(_ key: String) -> Bool { values[key] != nil }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
