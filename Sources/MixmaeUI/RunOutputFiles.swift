import Foundation
import MixmaeReports
import MixmaeRuns

/// The only files the UI serves: a run's pictures (the files its report shows) and
/// checkpoints and other artifacts a run produced, and only where they lie inside the
/// registry's `runs/` folder as regular files (no symbolic link is followed out of it).
///
/// A request names a file by what it is, never by a path on disk:
/// `/files/run/12/pictures/reconstruction-epoch-0002.png` or `/files/artifact/<sha256>`.
/// Anything else, including `..`, encoded `%2e%2e` or `%2f`, absolute paths, and links that
/// point elsewhere, is "not found".
package struct RunOutputFiles {
    package let registry: RunRegistry

    package init(registry: RunRegistry) {
        self.registry = registry
    }

    /// The picture `name` of run `run`, if the run's report lists a picture of that name.
    package func picture(run: RunID, name: String) throws -> URL {
        guard try registry.run(run) != nil else { throw UIRequestError.notFound("no run \(run) in the registry") }
        let files = RunReport(registry: registry, run: run).pictureFiles()
        guard let file = files.first(where: { $0.lastPathComponent == name }) else {
            throw UIRequestError.notFound("run \(run) has no picture named '\(name)'")
        }
        return try checkedInsideRuns(file)
    }

    /// The file of the artifact with hash `sha256` (64 hex digits), if a run produced it.
    package func artifact(sha256: String) throws -> URL {
        let hash = sha256.lowercased()
        guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            throw UIRequestError.notFound("'\(sha256)' is not a full SHA-256 (64 hex digits)")
        }
        guard let artifact = try registry.artifact(sha256: hash), artifact.producingRunID != nil,
            artifact.removedAt == nil
        else {
            throw UIRequestError.notFound("no run produced an artifact with sha256 \(hash)")
        }
        return try checkedInsideRuns(URL(fileURLWithPath: artifact.path))
    }

    /// The URL of `file` when it is a regular file whose real location (every link resolved)
    /// lies inside the registry's `runs/` folder.
    private func checkedInsideRuns(_ file: URL) throws -> URL {
        let runs = registry.runsDirectory.resolvingSymlinksInPath().standardizedFileURL.path + "/"
        let real = file.resolvingSymlinksInPath().standardizedFileURL
        var info = stat()
        guard lstat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, real.path.hasPrefix(runs) else {
            throw UIRequestError.notFound("\(file.lastPathComponent) is not a run output file the UI serves")
        }
        return real
    }

    /// The content type for a served file.
    package static func contentType(of file: URL) -> String {
        switch file.pathExtension.lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "svg": return "image/svg+xml"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }
}

/// A request path split into its segments, each percent-decoded once. A segment that is
/// empty, `.` or `..`, or that decodes to something with a `/`, a backslash or a NUL, is
/// refused, so no decoded path can climb out of where a route looks.
package enum UIPath {
    package static func segments(_ rawPath: String) throws -> [String] {
        let path = rawPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var segments: [String] = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = raw.removingPercentEncoding else {
                throw UIRequestError.badRequest("the path segment '\(raw)' is not valid percent-encoding")
            }
            if decoded.isEmpty || decoded == "." || decoded == ".." || decoded.contains("/")
                || decoded.contains("\\") || decoded.contains("\0")
            {
                throw UIRequestError.notFound("the path segment '\(raw)' is not allowed")
            }
            segments.append(decoded)
        }
        return segments
    }
}
