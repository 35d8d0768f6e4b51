import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What a test needs from an SVG file, read with Foundation's XML parser.
public struct SVGSummary {
    public var root = ""
    /// The `d` of every `<path>` outside `<defs>`.
    public var paths: [String] = []
    /// The `data-series` names, in order.
    public var series: [String] = []
    /// How many `<circle>` elements (dots for lone points).
    public var circles = 0
    /// All text content, concatenated.
    public var text = ""

    public init(contentsOfFile path: String) throws {
        try self.init(data: try Data(contentsOf: URL(fileURLWithPath: path)), source: path)
    }

    /// Parses SVG text; throws when it is not well-formed XML.
    public init(data: Data, source: String = "SVG") throws {
        let delegate = Collector()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else {
            throw CocoaError(
                .fileReadCorruptFile,
                userInfo: [
                    NSFilePathErrorKey: source,
                    NSDebugDescriptionErrorKey: "\(parser.parserError.map { "\($0)" } ?? "")",
                ])
        }
        root = delegate.elements.first?.name ?? ""
        circles = delegate.elements.filter { $0.name == "circle" }.count
        text = delegate.text
        for element in delegate.elements where element.name == "path" && !element.inDefs {
            paths.append(element.attributes["d"] ?? "")
            if let name = element.attributes["data-series"] { series.append(name) }
        }
    }
}

/// What a test needs from an HTML page written as well-formed XML (`mixmae report`).
public struct HTMLSummary {
    public let directory: URL
    /// Every `src` and `href` that is not a fragment or a URL with a scheme.
    public var references: [String] = []
    public var svgCount = 0
    /// The page's text as written (entities decoded), for searching.
    public var text = ""

    public init(contentsOfFile path: String) throws {
        directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let delegate = Collector()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else {
            throw CocoaError(
                .fileReadCorruptFile,
                userInfo: [
                    NSFilePathErrorKey: path, NSDebugDescriptionErrorKey: "\(parser.parserError.map { "\($0)" } ?? "")",
                ])
        }
        for element in delegate.elements {
            if element.name == "svg" { svgCount += 1 }
            for key in ["src", "href"] {
                if let value = element.attributes[key], !value.hasPrefix("#"), !value.contains("://") {
                    references.append(value)
                }
            }
        }
        text = delegate.text
    }

    /// Whether `reference` names an existing file, relative to the page.
    public func resolves(_ reference: String) -> Bool {
        let decoded = reference.removingPercentEncoding ?? reference
        return FileManager.default.fileExists(
            atPath: directory.appendingPathComponent(decoded).standardizedFileURL.path)
    }
}

/// Collects elements, attributes and text from an XML parse.
private final class Collector: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var inDefs: Bool
    }
    var elements: [Element] = []
    public var text = ""
    private var defsDepth = 0

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements.append(Element(name: name, attributes: attributes, inDefs: defsDepth > 0))
        if name == "defs" { defsDepth += 1 }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "defs" { defsDepth -= 1 }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
    }
}
