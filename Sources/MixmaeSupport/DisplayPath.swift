import Foundation

/// `path` as a user reads it in a table or message: relative to `base` (the current
/// directory) when it is inside it, else as it is.
///
/// ```swift
/// displayPath("/work/mixmae/.mixmae/runs/3/last.safetensors")   // ".mixmae/runs/3/last.safetensors"
/// ```
package func displayPath(_ path: String, relativeTo base: String = FileManager.default.currentDirectoryPath)
    -> String
{
    let prefix = base.hasSuffix("/") ? base : base + "/"
    return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
}
