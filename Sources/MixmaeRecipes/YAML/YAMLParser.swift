import CYAML
import Foundation
import MixKit
import MixmaeSupport

/// Parses YAML text into a ``YAMLNode`` tree with libyaml's event API.
///
/// One document per text (an empty text is a null node). Anchors and aliases
/// work: an alias is a copy of the anchored node, keeping the anchored node's
/// marks. YAML merge keys (`<<`) and duplicate keys are errors.
///
/// ```swift
/// let root = try YAMLParser.parse(file: "recipes/base/pretrain.yaml")
/// let text = try YAMLParser.parse("depths: [2, 2, 6, 2]", file: "inline")
/// ```
public enum YAMLParser {
    /// The deepest nesting accepted, so hostile input cannot exhaust the stack.
    public static let maximumDepth = 256
    /// The most nodes one text may expand to (aliases count their whole subtree).
    public static let maximumNodeCount = 1_000_000

    /// Reads and parses the file at `path`; marks name the file as `path` was written.
    /// Only a regular file of at most ``maximumFileBytes`` is read: a FIFO
    /// or a device is refused at once.
    public static func parse(file path: String) throws -> YAMLNode {
        let data: Data
        do {
            data = try RegularFile.read(path, maxBytes: maximumFileBytes, what: "YAML file")
        } catch let error as InputFileError {
            throw YAMLError(
                mark: SourceMark(file: path, line: 1, column: 1),
                message: FileManager.default.fileExists(atPath: path)
                    ? error.problem : "cannot read file '\(path)': no such file")
        }
        return try parse(bytes: [UInt8](data), origin: .file(path))
    }

    /// The largest YAML file read (16 MiB; recipes and registries are a few KiB).
    public static let maximumFileBytes = 16 << 20

    /// Parses `text`, naming `file` in marks and errors.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        try parse(bytes: Array(text.utf8), origin: .file(file))
    }

    /// Parses `bytes` with marks of `origin`; `columnOffset` is added to every
    /// column (for a value that sits after `key=` in a `--set` argument).
    static func parse(bytes: [UInt8], origin: SourceMark.Origin, columnOffset: Int = 0) throws
        -> YAMLNode
    {
        let reader = EventReader(origin: origin, columnOffset: columnOffset)
        defer { reader.close() }
        return try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(reader.parser, buffer.baseAddress, buffer.count)
            reader.bytes = buffer
            var builder = DocumentBuilder(reader: reader)
            return try builder.buildDocument()
        }
    }
}

/// One libyaml event, copied out of libyaml's memory.
private struct Event {
    var type: yaml_event_type_t
    var mark: SourceMark
    var anchor: String?
    var tag: String?
    var value: String = ""
    var style: ScalarStyle = .plain
}

/// Owns a libyaml parser and turns its events into ``Event`` values.
private final class EventReader {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    let origin: SourceMark.Origin
    let columnOffset: Int
    var bytes: UnsafeBufferPointer<UInt8>?

    init(origin: SourceMark.Origin, columnOffset: Int) {
        self.origin = origin
        self.columnOffset = columnOffset
        parser = .allocate(capacity: 1)
        yaml_parser_initialize(parser)
    }

    func close() {
        yaml_parser_delete(parser)
        parser.deallocate()
    }

    func mark(_ m: yaml_mark_t) -> SourceMark {
        SourceMark(origin: origin, line: Int(m.line) + 1, column: Int(m.column) + 1 + columnOffset)
    }

    func next() throws -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw libyamlError() }
        defer { yaml_event_delete(&event) }
        var result = Event(type: event.type, mark: mark(event.start_mark))
        switch event.type {
        case YAML_ALIAS_EVENT:
            result.anchor = string(event.data.alias.anchor)
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            result.anchor = string(s.anchor)
            result.tag = string(s.tag)
            result.value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            result.style = style(s.style)
        case YAML_SEQUENCE_START_EVENT:
            result.anchor = string(event.data.sequence_start.anchor)
            result.tag = string(event.data.sequence_start.tag)
        case YAML_MAPPING_START_EVENT:
            result.anchor = string(event.data.mapping_start.anchor)
            result.tag = string(event.data.mapping_start.tag)
        default:
            break
        }
        return result
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private func style(_ s: yaml_scalar_style_t) -> ScalarStyle {
        switch s {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }

    private func libyamlError() -> YAMLError {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "unknown YAML error"
        switch p.error {
        case YAML_READER_ERROR:
            return YAMLError(
                mark: markOfOffset(p.problem_offset),
                message: "\(problem) (byte offset \(p.problem_offset))")
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            var message = problem
            if let context = p.context.map({ String(cString: $0) }) {
                let c = mark(p.context_mark)
                message += " (\(context) at line \(c.line), column \(c.column))"
            }
            return YAMLError(mark: mark(p.problem_mark), message: message)
        case YAML_MEMORY_ERROR:
            return YAMLError(mark: mark(p.mark), message: "out of memory while parsing")
        default:
            return YAMLError(mark: mark(p.problem_mark), message: problem)
        }
    }

    /// Line and column of a byte offset (libyaml reports reader errors by offset).
    private func markOfOffset(_ offset: Int) -> SourceMark {
        var line = 1
        var column = 1
        if let bytes {
            for byte in bytes.prefix(offset) {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
        }
        return SourceMark(origin: origin, line: line, column: column + columnOffset)
    }
}

/// Builds nodes from events: one document, anchors, aliases, limits.
private struct DocumentBuilder {
    let reader: EventReader
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var nodeCount = 0

    init(reader: EventReader) {
        self.reader = reader
    }

    mutating func buildDocument() throws -> YAMLNode {
        let start = try reader.next()
        precondition(start.type == YAML_STREAM_START_EVENT, "libyaml starts every stream with STREAM-START")
        let first = try reader.next()
        if first.type == YAML_STREAM_END_EVENT {
            return YAMLNode(.null, mark: first.mark)
        }
        // DOCUMENT-START, the root node, DOCUMENT-END.
        let root = try build(try reader.next(), depth: 0).node
        _ = try reader.next()
        let after = try reader.next()
        if after.type != YAML_STREAM_END_EVENT {
            throw YAMLError(
                mark: after.mark,
                message: "a second YAML document starts here; a recipe file holds exactly one document")
        }
        return root
    }

    private mutating func build(_ event: Event, depth: Int) throws -> (node: YAMLNode, size: Int) {
        guard depth < YAMLParser.maximumDepth else {
            throw YAMLError(
                mark: event.mark, message: "nesting deeper than \(YAMLParser.maximumDepth) levels")
        }
        let built: (node: YAMLNode, size: Int)
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = event.anchor ?? ""
            guard let anchored = anchors[name] else {
                throw YAMLError(
                    mark: event.mark,
                    message: "alias '*\(name)' names no anchor defined before it; write '&\(name)' "
                        + "on an earlier node (an anchor cannot refer to a node that contains it)")
            }
            try count(anchored.size, at: event.mark)
            return anchored
        case YAML_SCALAR_EVENT:
            try count(1, at: event.mark)
            if event.style == .plain && ScalarValue.isNull(plain: event.value) {
                built = (YAMLNode(.null, mark: event.mark, tag: event.tag), 1)
            } else {
                built = (
                    YAMLNode(.scalar(YAMLScalar(event.value, style: event.style)), mark: event.mark, tag: event.tag), 1
                )
            }
        case YAML_SEQUENCE_START_EVENT:
            try count(1, at: event.mark)
            var items: [YAMLNode] = []
            var size = 1
            while true {
                let next = try reader.next()
                if next.type == YAML_SEQUENCE_END_EVENT { break }
                let item = try build(next, depth: depth + 1)
                items.append(item.node)
                size += item.size
            }
            built = (YAMLNode(.sequence(items), mark: event.mark, tag: event.tag), size)
        case YAML_MAPPING_START_EVENT:
            try count(1, at: event.mark)
            var mapping = YAMLMapping()
            var size = 1
            while true {
                let keyEvent = try reader.next()
                if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                let key = try build(keyEvent, depth: depth + 1).node
                let keyText = try keyString(key)
                let value = try build(try reader.next(), depth: depth + 1)
                if let previous = mapping.entry(keyText) {
                    throw YAMLError(
                        mark: key.mark,
                        message: "duplicate key '\(keyText)' (first set at \(previous.keyMark)); "
                            + "remove one of them")
                }
                mapping.set(.init(key: keyText, keyMark: key.mark, value: value.node))
                size += value.size
            }
            built = (YAMLNode(.mapping(mapping), mark: event.mark, tag: event.tag), size)
        default:
            throw YAMLError(mark: event.mark, message: "unexpected YAML event \(event.type.rawValue)")
        }
        if let anchor = event.anchor { anchors[anchor] = built }
        return built
    }

    private func keyString(_ key: YAMLNode) throws -> String {
        guard case .scalar(let scalar) = key.content else {
            throw YAMLError(
                mark: key.mark,
                message: "mapping keys must be strings or numbers, found \(key.kindDescription)")
        }
        if scalar.isPlain && scalar.text == "<<" {
            throw YAMLError(
                mark: key.mark,
                message: "YAML merge keys ('<<') are not supported; use 'base:' to inherit "
                    + "from another recipe, or an alias ('*name') to repeat a whole value")
        }
        return scalar.text
    }

    private mutating func count(_ nodes: Int, at mark: SourceMark) throws {
        nodeCount += nodes
        if nodeCount > YAMLParser.maximumNodeCount {
            throw YAMLError(
                mark: mark,
                message: "document expands to more than \(YAMLParser.maximumNodeCount) nodes "
                    + "(aliases of aliases?)")
        }
    }
}
