import Foundation
import MixmaeSupport

/// A classification dataset in the ImageFolder layout: `root/<class>/<image>`,
/// classes sorted by name and numbered from 0, images sorted by path. A root
/// that holds images directly (no class folders) is one unlabeled class, which
/// is enough for pretraining.
///
/// ```swift
/// let train = try ImageFolder(root: "data/synth/classification/train")
/// train.classes        // ["circle", "square", ...]
/// train.samples[0]     // (path: ".../circle/000.png", label: 0)
/// ```
public struct ImageFolder: Sendable {
    public struct Sample: Sendable, Equatable {
        public var path: String
        public var label: Int

        public init(path: String, label: Int) {
            self.path = path
            self.label = label
        }
    }

    public let root: String
    public let classes: [String]
    public let samples: [Sample]

    /// File extensions read as images (case-insensitive); the format itself is
    /// detected from the file's bytes.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public init(root: String) throws {
        self.root = root
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(
                file: root,
                problem:
                    "no such folder; give a folder of class subfolders of images (ImageFolder layout), or generate one with `mixmae data synth --out DIR`"
            )
        }
        let entries = try fm.contentsOfDirectory(atPath: root).filter { !$0.hasPrefix(".") }.sorted()
        let classFolders = entries.filter { name in
            var dir: ObjCBool = false
            return fm.fileExists(atPath: root + "/" + name, isDirectory: &dir) && dir.boolValue
        }
        var samples: [Sample] = []
        var classes: [String] = []
        if classFolders.isEmpty {
            classes = [""]
            samples = ImageFolder.images(in: root, entries: entries).map { Sample(path: $0, label: 0) }
        } else {
            for name in classFolders {
                let dir = root + "/" + name
                let files = ImageFolder.images(in: dir, entries: (try? fm.contentsOfDirectory(atPath: dir)) ?? [])
                if files.isEmpty { continue }
                let label = classes.count
                classes.append(name)
                samples += files.map { Sample(path: $0, label: label) }
            }
        }
        guard !samples.isEmpty else {
            throw InputError(
                file: root,
                problem: "no .jpg, .jpeg or .png images found (looked in the folder and its class subfolders)")
        }
        self.classes = classes
        self.samples = samples
    }

    private static func images(in dir: String, entries: [String]) -> [String] {
        entries.filter { !$0.hasPrefix(".") && imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted().map { dir + "/" + $0 }
    }
}
