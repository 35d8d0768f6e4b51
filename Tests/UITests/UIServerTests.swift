import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `mixmae ui` as a real server process, asked over HTTP.
@Suite struct UIServerTests {
    @Test func theServerListensOnLoopbackAndAnswersOverHTTP() throws {
        let fixture = try UITestRegistry()
        let server = try startMixmae(["ui", "--home", fixture.home.path, "--port", "0"], in: fixture.folder.path)
        defer {
            server.send(SIGTERM)
            _ = try? server.wait(timeout: 20)
        }
        var address: String?
        let started = waitUntil(timeout: 60) {
            address =
                server.standardOutputSoFar.components(separatedBy: " at ").dropFirst().first?
                .components(separatedBy: " ").first
            return address != nil || !server.isRunning
        }
        #expect(
            started && address != nil, "no address printed: \(server.standardOutputSoFar) \(server.standardErrorSoFar)")
        guard let base = address else { return }
        #expect(base.hasPrefix("http://127.0.0.1:"), "\(base)")

        let runs = try get(base + "api/runs")
        #expect(runs.status == 200)
        let printed = try runMixmae(
            ["runs", "list", "--format", "json"], environment: ["MIXMAE_HOME": fixture.home.path])
        #expect(String(decoding: runs.body, as: UTF8.self) == printed.stdout)
        #expect(runs.contentType?.hasPrefix("application/json") == true)

        let page = try get(base + "run/2")
        #expect(page.status == 200 && String(decoding: page.body, as: UTF8.self).contains("id=\"lineage\""))
        let picture = try get(base + "files/run/1/pictures/reconstruction-epoch-0001.png")
        #expect(picture.status == 200 && picture.body == UITestRegistry.png)
        for path in [
            "files/run/1/pictures/..%2F..%2F..%2Fregistry.sqlite", "files/run/1/%2e%2e/%2e%2e/registry.sqlite",
        ] {
            let answer = try get(base + path)
            #expect(answer.status == 404, "\(path): \(answer.status)")
        }
        server.send(SIGTERM)
        let result = try server.wait(timeout: 30)
        #expect(!result.signalled, "the server should stop cleanly on SIGTERM: \(result.stderr)")
    }

    @Test func aMissingRegistryIsAnErrorNotAnEmptyNewOne() throws {
        let folder = try TemporaryFolder("ui-missing")
        let result = try runMixmae(["ui", "--home", folder.file("nothing"), "--port", "0"], timeout: 60)
        #expect(result.status == 1)
        #expect(result.stderr.contains("there is no registry here"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("nothing")))
    }

    private func get(_ url: String) throws -> (status: Int, body: Data, contentType: String?) {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, error in
            box.value = (data, response as? HTTPURLResponse, error)
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 60) == .success else { throw TestSetupError("GET \(url) timed out") }
        if let error = box.value?.2 { throw error }
        let response = box.value?.1
        return (response?.statusCode ?? 0, box.value?.0 ?? Data(), response?.value(forHTTPHeaderField: "Content-Type"))
    }

    private final class Box: @unchecked Sendable {
        var value: (Data?, HTTPURLResponse?, Error?)?
    }
}
