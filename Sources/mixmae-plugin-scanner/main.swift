// The plugin scanner: loads one plugin library in a process of its own, so
// that a library that crashes or hangs while it is mapped, initialised or
// registered takes this process down instead of the host (GStreamer's
// gst-plugin-scanner does the same). The host (`PluginScanner` in
// MixmaePluginHost) runs `mixmae-plugin-scanner LIBRARY`, waits with a
// timeout, and reads how it ended: exit 0 with one line
// `mixmae-plugin-scan: ok|refused ...` on standard output when the library
// could be loaded (accepted or refused for a reason the host will find again
// itself); a signal or any other end is a library the host must not map.
import Foundation
import MixmaePluginHost

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 1, let path = arguments.first else {
    FileHandle.standardError.write(Data("usage: mixmae-plugin-scanner LIBRARY\n".utf8))
    exit(2)
}
switch PluginLoader().load(path) {
case .success(let library):
    print("\(PluginScanner.outputPrefix) ok \(library.components.map(\.id).joined(separator: ","))")
case .failure(let refusal):
    print("\(PluginScanner.outputPrefix) refused \(refusal.summary)")
}
exit(0)
