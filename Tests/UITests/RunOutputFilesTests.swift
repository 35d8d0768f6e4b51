import Foundation
import MixmaeRuns
import MixmaeUI
import TestSupport
import Testing

/// Only run outputs are served: no climbing out with `..` (plain or encoded), absolute
/// paths, or symbolic links.
@Suite struct RunOutputFilesTests {
    @Test func picturesAndProducedArtifactsAreServed() throws {
        let fixture = try UITestRegistry()
        let registry = try fixture.readOnly()
        let site = UISite(registry: registry)
        let picture = site.respond(
            method: "GET", path: "/files/run/1/pictures/reconstruction-epoch-0002.png", query: nil)
        #expect(picture.status == 200)
        #expect(picture.contentType == "image/png")
        #expect(Data(picture.body) == UITestRegistry.png)
        let checkpoint = try registry.recordedCheckpoint(ofRun: 1, role: .checkpointLast).artifact
        let file = site.respond(method: "GET", path: "/files/artifact/\(checkpoint.sha256)", query: nil)
        #expect(file.status == 200)
        #expect(file.text == "weights of run 1")
    }

    @Test func pathsThatLeaveTheRunOutputsAreRefused() throws {
        let fixture = try UITestRegistry()
        let site = UISite(registry: try fixture.readOnly())
        let pictures = fixture.home.appendingPathComponent("runs/1/pictures")
        // A link with a picture's name that points outside the registry, and one to the database.
        try FileManager.default.createSymbolicLink(
            atPath: pictures.appendingPathComponent("passwd-epoch-0001.png").path, withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(
            atPath: pictures.appendingPathComponent("db-epoch-0001.png").path,
            withDestinationPath: fixture.home.appendingPathComponent("registry.sqlite").path)
        let refused = [
            "/files/run/1/pictures/..%2F..%2F..%2Fregistry.sqlite",
            "/files/run/1/pictures/%2e%2e%2f%2e%2e%2f%2e%2e%2fregistry.sqlite",
            "/files/run/1/pictures/%2E%2E",
            "/files/run/1/%2e%2e/%2e%2e/registry.sqlite",
            "/files/run/1/pictures/../../../registry.sqlite",
            "/files/run/1/pictures/%2Fetc%2Fpasswd",
            "/files//etc/passwd",
            "/files/etc/passwd",
            "/files/run/1/pictures/passwd-epoch-0001.png",
            "/files/run/1/pictures/db-epoch-0001.png",
            "/files/run/1/pictures/last.safetensors",
            "/files/run/1/last.safetensors",
            "/files/run/1/pictures/reconstruction-epoch-0002.png%00.txt",
            "/files/run/1/pictures/..%5C..%5Cregistry.sqlite",
            "/files/artifact/..%2F..%2Fregistry.sqlite",
            "/files/artifact/0000000000000000000000000000000000000000000000000000000000000000",
            "/files/run/0/pictures/x.png",
            "/files/run/-1/pictures/x.png",
        ]
        for path in refused {
            let answer = site.respond(method: "GET", path: path, query: nil)
            #expect(answer.status == 404 || answer.status == 400, "\(path) answered \(answer.status)")
            #expect(!answer.text.contains("root:"), "\(path) leaked /etc/passwd")
            #expect(!answer.body.starts(with: Array("SQLite format".utf8)), "\(path) leaked the database")
        }
    }

    @Test func anArtifactReplacedByALinkOutsideIsRefused() throws {
        let fixture = try UITestRegistry()
        let registry = try fixture.readOnly()
        let site = UISite(registry: registry)
        let checkpoint = try registry.recordedCheckpoint(ofRun: 2, role: .checkpointBest).artifact
        try FileManager.default.removeItem(atPath: checkpoint.path)
        try FileManager.default.createSymbolicLink(atPath: checkpoint.path, withDestinationPath: "/etc/passwd")
        let answer = site.respond(method: "GET", path: "/files/artifact/\(checkpoint.sha256)", query: nil)
        #expect(answer.status == 404)
        #expect(!answer.text.contains("root:"))
    }
}
