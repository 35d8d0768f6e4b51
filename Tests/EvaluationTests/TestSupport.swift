import Foundation
import TestSupport

/// ../shared/fixtures/eval (or its equivalent).
var evalFixtures: URL { TestPaths.shared.appendingPathComponent("fixtures/eval") }

/// The fixture's expected numbers, by key.
func expectedNumbers(_ relativePath: String) throws -> [String: Any] {
    let data = try Data(contentsOf: evalFixtures.appendingPathComponent(relativePath))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// Writes a JSON value to `name` in `directory` and returns the path.
func writeJSON(_ value: Any, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try JSONSerialization.data(withJSONObject: value).write(to: url)
    return url.path
}
