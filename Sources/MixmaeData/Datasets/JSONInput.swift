import Foundation
import MixKit
import MixmaeSupport

/// Decodes JSON with `JSONDecoder` and turns its errors into
/// `InputError`s that name the file and the JSON path of the bad value.
enum JSONInput {
    /// The largest JSON file read (4 GiB; COCO's train2017 annotations are 450 MiB).
    static let maximumFileBytes = 4 << 30

    /// Reads and decodes the JSON file at `path`.
    static func decodeFile<T: Decodable>(_ type: T.Type, path: String) throws -> T {
        let data: Data
        do {
            data = try RegularFile.read(path, maxBytes: maximumFileBytes, what: "JSON file")
        } catch let error as InputFileError {
            let reason = FileManager.default.fileExists(atPath: path) ? error.problem : "no such file"
            throw InputError(file: path, problem: reason)
        }
        return try decode(type, from: data, file: path)
    }

    /// Decodes `data`; `file` names it in errors.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw inputError(error, file: file, data: data)
        }
    }

    /// Where and why `data` is not JSON, from JSONSerialization's report
    /// ("Invalid value around character 27."), with the offset as line:column.
    static func syntaxProblem(in data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return "not valid JSON"
        } catch {
            var reason =
                (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            if reason.hasSuffix(".") { reason.removeLast() }
            guard let range = reason.range(of: "around character "),
                let offset = Int(reason[range.upperBound...])
            else { return "not valid JSON: \(reason)" }
            let before = data.prefix(offset)
            let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
            return "not valid JSON: \(reason) (line \(line), column \(column))"
        }
    }

    /// `[3].bbox[2]`-style text for a coding path.
    static func path(_ codingPath: [CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    private static func inputError(_ error: DecodingError, file: String, data: Data)
        -> InputError
    {
        switch error {
        case .typeMismatch(let type, let context):
            return InputError(
                file: file, keyPath: path(context.codingPath),
                problem: "expected \(describe(type)) (\(context.debugDescription))")
        case .valueNotFound(let type, let context):
            return InputError(
                file: file, keyPath: path(context.codingPath),
                problem: "expected \(describe(type)), found null")
        case .keyNotFound(let key, let context):
            return InputError(
                file: file, keyPath: path(context.codingPath + [key]), problem: "missing")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return InputError(file: file, problem: syntaxProblem(in: data))
            }
            return InputError(
                file: file, keyPath: path(context.codingPath), problem: context.debugDescription)
        @unknown default:
            return InputError(file: file, problem: "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            return "an object"
        }
    }
}
