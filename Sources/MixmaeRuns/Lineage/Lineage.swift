import Foundation

/// Which way to walk the lineage graph.
public enum LineageDirection: String, Codable {
    /// Ancestors: who produced this, from what, ... back to the roots.
    case up
    /// Descendants: what was produced from this, and what used that, ...
    case down
}

/// A node of the lineage graph: a run, or an artifact (identified by content).
public enum LineageNode: Hashable {
    case run(RunID)
    case artifact(ArtifactID)
}

/// A run used or produced an artifact: one edge of the lineage graph.
public struct LineageEdge: Hashable {
    public let run: RunID
    public let artifact: ArtifactID
    public let direction: EventDirection
    public let role: ArtifactRole
}

/// Whether an artifact's bytes are at a path, as far as the registry and a `stat` can tell
/// (no hashing).
public enum ArtifactFileState: String, Codable {
    /// A file is at the path, and no other artifact was recorded there since.
    case present
    /// No file is at the path.
    case missing
    /// A later artifact was recorded at the same path (e.g. the next `last.safetensors`).
    case overwritten
    /// `mixmae runs gc --delete` removed it.
    case deleted
    /// The file left this path; the bytes were last seen at the artifact's known path.
    case moved
}

/// One step from a node to a neighbour, with every role that links the two.
public struct LineageStep: Equatable {
    public let node: LineageNode
    public let direction: EventDirection
    public let roles: [ArtifactRole]
}

/// The part of the run/artifact graph reachable from one node in one direction.
///
/// Runs and artifacts alternate: a run *used* artifacts and *produced* artifacts. Because
/// artifacts are identified by content hash, a checkpoint copied or moved elsewhere is the
/// same node. Render it with ``LineageRenderer``.
public struct LineageGraph {
    public let root: LineageNode
    public let direction: LineageDirection
    public let runs: [RunID: RunRecord]
    public let artifacts: [ArtifactID: Artifact]
    /// Where each artifact's file stands.
    public let fileStates: [ArtifactID: ArtifactFileState]
    /// Every traversed edge, in recording order.
    public let edges: [LineageEdge]

    /// The next nodes from `node` in the graph's direction, one step per neighbour (in the
    /// order first recorded) with all the roles that link them.
    ///
    /// Up: an artifact leads to the runs that produced it, a run to the artifacts it used.
    /// Down: an artifact leads to the runs that used it, a run to the artifacts it produced.
    public func next(from node: LineageNode) -> [LineageStep] {
        let matching: [(LineageEdge, LineageNode)]
        switch (direction, node) {
        case (.up, .artifact(let id)):
            matching = edges.filter { $0.artifact == id && $0.direction == .produced }.map { ($0, .run($0.run)) }
        case (.up, .run(let id)):
            matching = edges.filter { $0.run == id && $0.direction == .used }.map { ($0, .artifact($0.artifact)) }
        case (.down, .artifact(let id)):
            matching = edges.filter { $0.artifact == id && $0.direction == .used }.map { ($0, .run($0.run)) }
        case (.down, .run(let id)):
            matching = edges.filter { $0.run == id && $0.direction == .produced }.map {
                ($0, .artifact($0.artifact))
            }
        }
        var order: [LineageNode] = []
        var roles: [LineageNode: [ArtifactRole]] = [:]
        var directions: [LineageNode: EventDirection] = [:]
        for (edge, neighbour) in matching {
            if roles[neighbour] == nil { order.append(neighbour) }
            if !(roles[neighbour] ?? []).contains(edge.role) { roles[neighbour, default: []].append(edge.role) }
            directions[neighbour] = edge.direction
        }
        return order.map { LineageStep(node: $0, direction: directions[$0]!, roles: roles[$0]!) }
    }

    /// The artifact run `id` most recently produced in `role`, among the graph's edges.
    public func latestProduced(by id: RunID, role: ArtifactRole) -> ArtifactID? {
        edges.last { $0.run == id && $0.direction == .produced && $0.role == role }?.artifact
    }
}

extension RunRegistry {
    /// The lineage graph from `node` up (ancestors) or down (descendants), computed with a
    /// recursive SQL query over the events table.
    ///
    /// ```swift
    /// let root = try registry.lineageNode(for: "runs/3/last.safetensors")
    /// let graph = try registry.lineage(of: root, direction: .up)
    /// print(LineageRenderer(graph: graph).tree())
    /// ```
    public func lineage(of node: LineageNode, direction: LineageDirection) throws -> LineageGraph {
        try markVanishedRuns()
        let (rootKind, rootID): (String, Int64) =
            switch node {
            case .run(let id): ("r", id)
            case .artifact(let id): ("a", id)
            }
        // Up: artifact -> runs that produced it -> artifacts they used -> ...
        // Down: artifact -> runs that used it -> artifacts they produced -> ...
        let fromArtifact = direction == .up ? "produced" : "used"
        let fromRun = direction == .up ? "used" : "produced"
        let reach = """
            WITH RECURSIVE reach(kind, id) AS (
                SELECT ?, ?
                UNION
                SELECT 'r', e.run_id FROM reach JOIN events e
                    ON reach.kind = 'a' AND e.artifact_id = reach.id AND e.direction = '\(fromArtifact)'
                UNION
                SELECT 'a', e.artifact_id FROM reach JOIN events e
                    ON reach.kind = 'r' AND e.run_id = reach.id AND e.direction = '\(fromRun)'
            )
            """
        let root: [SQLiteBindable] = [rootKind, rootID]
        return try database.readTransaction {
            switch node {
            case .run(let id): _ = try requireRun(id)
            case .artifact(let id):
                guard try artifact(id: id) != nil else { throw RegistryError.noArtifactWithPrefix("#\(id)") }
            }
            let runs = try database.query(
                "\(reach) SELECT \(Self.runColumns) FROM runs WHERE id IN (SELECT id FROM reach WHERE kind = 'r')",
                root, Self.runRecord)
            let artifacts = try database.query(
                """
                \(reach) SELECT \(Self.artifactColumns) FROM artifacts
                WHERE id IN (SELECT id FROM reach WHERE kind = 'a')
                """, root, Self.artifactRecord)
            let edges = try database.query(
                """
                \(reach) SELECT e.run_id, e.artifact_id, e.direction, e.role FROM events e
                WHERE (e.direction = '\(fromArtifact)' AND e.artifact_id IN (SELECT id FROM reach WHERE kind = 'a'))
                   OR (e.direction = '\(fromRun)' AND e.run_id IN (SELECT id FROM reach WHERE kind = 'r'))
                ORDER BY e.time, e.id
                """, root
            ) {
                LineageEdge(
                    run: $0.int64(0), artifact: $0.int64(1),
                    direction: EventDirection(rawValue: $0.text(2)) ?? .used, role: ArtifactRole($0.text(3)))
            }
            var states: [ArtifactID: ArtifactFileState] = [:]
            for artifact in artifacts {
                states[artifact.id] = try fileState(of: artifact)
            }
            return LineageGraph(
                root: node, direction: direction,
                runs: Dictionary(uniqueKeysWithValues: runs.map { ($0.id, $0) }),
                artifacts: Dictionary(uniqueKeysWithValues: artifacts.map { ($0.id, $0) }),
                fileStates: states, edges: edges)
        }
    }

    /// Where an artifact's bytes stand at `path` (default: its last known path), from the
    /// registry's records and a `stat` (the file is not hashed; ``verify(_:preferredPath:)``
    /// does that).
    public func fileState(of artifact: Artifact, at path: String? = nil) throws -> ArtifactFileState {
        if artifact.removedAt != nil { return .deleted }
        let place = path ?? artifact.path
        if let latest = try artifactLastRecorded(atPath: place), latest.id != artifact.id {
            return .overwritten
        }
        if FileManager.default.fileExists(atPath: place) { return .present }
        if place != artifact.path, try fileState(of: artifact) == .present { return .moved }
        return .missing
    }

    /// The node a command-line REF names:
    /// - `12` or `run:12`: run 12;
    /// - `sha256:3fa9c1` or a bare hex prefix of 4+ digits: the artifact with that prefix;
    /// - an existing file path: the artifact with that content (moved files are found).
    ///
    /// All-digit text is a run id; write `sha256:` in front of an all-digit hash prefix.
    public func lineageNode(for reference: String) throws -> LineageNode {
        let text = reference.trimmingCharacters(in: .whitespaces)
        if let id = RunID(text) ?? (text.hasPrefix("run:") ? RunID(text.dropFirst(4)) : nil) {
            _ = try requireRun(id)
            return .run(id)
        }
        if text.hasPrefix("run:"), case .run(let id, let choice) = try WeightsReference(parsing: text) {
            return .artifact(try recordedCheckpoint(ofRun: id, role: choice.role).artifact.id)
        }
        if text.hasPrefix("sha256:") {
            let prefix = try WeightsReference.hexPrefix(String(text.dropFirst(7)), in: reference)
            return .artifact(try uniqueArtifact(prefix: prefix).id)
        }
        let url = URL(fileURLWithPath: (text as NSString).expandingTildeInPath).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            guard let artifact = try knownArtifact(forFileAt: url) else {
                throw RegistryError.badReference(
                    reference,
                    reason: "the registry has never seen this file's content (no run used or "
                        + "produced it)")
            }
            return .artifact(artifact.id)
        }
        if text.count >= 4, text.allSatisfy({ $0.isHexDigit }) {
            return .artifact(try uniqueArtifact(prefix: text.lowercased()).id)
        }
        throw RegistryError.badReference(
            reference,
            reason: "it is not a run id (12, run:12), a run's checkpoint (run:12:last, run:12:best), "
                + "a hash prefix (sha256:3fa9c1) or an existing file")
    }
}
