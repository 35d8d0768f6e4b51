import Foundation
import MixmaeRuns
import MixmaeSupport
import MixmaeUI
import TestSupport
import Testing

/// The UI fixture's registry plus two sweeps made through the registry's API, tagged as
/// `mixmae sweep` tags its runs: sweep 1 varies `optim.base_lr` and `seed` (4 points) with a
/// finetune stage, all finished (runs 4-11: stage 1 then stage 2 per point); sweep 2 varies
/// `mask.mode` (2 points, one stage): point 1 is RUNNING (run 12), point 2 has not run.
struct UISweepRegistry {
    let base: UITestRegistry
    /// Kept open so run 12 stays RUNNING (this process is alive).
    let running: ActiveRun

    init() throws {
        base = try UITestRegistry()
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0
        let registry = try RunRegistry(home: base.home, options: options)
        let spec = SweepSpec(
            recipe: "pretrain.yaml", recipeSHA256: String(repeating: "a", count: 64), overrides: ["log.every=1"],
            grid: [
                SweepSpec.Axis(key: "optim.base_lr", values: ["1e-3", "2e-3"]),
                SweepSpec.Axis(key: "seed", values: ["0", "1"]),
            ],
            then: SweepSpec.Stage(
                recipe: "classify.yaml", recipeSHA256: String(repeating: "b", count: 64),
                overrides: ["init.weights={parent}"]))
        let sweep = try registry.sweep(for: spec).sweep
        for point in spec.points {
            for stage in 1...2 {
                let run = try registry.beginRun(
                    task: stage == 1 ? "pretrain" : "classify",
                    recipe: RecipeSnapshot(text: "task: x\n# point \(point.label) stage \(stage)\n"),
                    seed: UInt64(point.index),
                    tags: [
                        SweepTags.sweep: String(sweep.id), SweepTags.point: String(point.index),
                        SweepTags.stage: String(stage),
                    ])
                let quality = Double(point.index) / 10
                try run.log(step: 5, stage == 1 ? ["loss": 1 - quality] : ["top1": quality, "loss": 2 - quality])
                try run.log(step: 5, ["compute_tflops": Double(stage)])
                try run.finish(.finished)
            }
        }
        let second = try registry.sweep(
            for: SweepSpec(
                recipe: "pretrain.yaml", recipeSHA256: String(repeating: "c", count: 64), overrides: [],
                grid: [SweepSpec.Axis(key: "mask.mode", values: ["mix", "mask_token"])], then: nil)
        ).sweep
        running = try registry.beginRun(
            task: "pretrain", recipe: RecipeSnapshot(text: "task: pretrain\n"), seed: 0,
            tags: [SweepTags.sweep: String(second.id), SweepTags.point: "1", SweepTags.stage: "1"])
        try running.log(step: 1, ["loss": 0.5, "compute_tflops": 0.1])
    }
}

/// The sweeps pages and their API.
@Suite struct SweepPagesTests {
    @Test func theSweepAPIReturnsExactlyWhatRunsCompareSweepPrints() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        let environment = ["MIXMAE_HOME": fixture.base.home.path]
        let pairs: [(query: String?, sweep: String, extra: [String])] = [
            (nil, "1", []), ("metrics=top1,compute_tflops", "1", ["--metrics", "top1,compute_tflops"]),
            (nil, "2", []),
        ]
        for pair in pairs {
            let answer = site.respond(method: "GET", path: "/api/sweeps/\(pair.sweep)", query: pair.query)
            #expect(answer.status == 200, "\(answer.text)")
            let printed = try runMixmae(
                ["runs", "compare", "--sweep", pair.sweep] + pair.extra + ["--format", "json"],
                in: fixture.base.folder.path, environment: environment)
            #expect(printed.status == 0, "\(printed.stderr)")
            #expect(answer.text == printed.stdout, "/api/sweeps/\(pair.sweep)?\(pair.query ?? "") differs")
        }
        #expect(site.respond(method: "GET", path: "/api/sweeps/9", query: nil).status == 404)
        let bad = site.respond(method: "GET", path: "/api/sweeps/x", query: nil)
        #expect(bad.status == 400 && bad.text.contains("a sweep id is a positive number"))
    }

    @Test func theSweepsListShowsEachSweepAndHowFarItGot() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        let page = site.respond(method: "GET", path: "/sweeps", query: nil)
        #expect(page.status == 200)
        let text = page.text
        #expect(text.contains("<a href=\"/sweeps\" class=\"active\">sweeps</a>"))
        #expect(text.contains("<a href=\"/sweep/1\" class=\"sweep-link\">sweep 1</a>"))
        #expect(text.contains("<code>optim.base_lr=1e-3,2e-3</code> <code>seed=0,1</code>"))
        #expect(text.contains("pretrain.yaml <span class=\"muted\">then</span> classify.yaml"))
        #expect(text.contains("8 <span class=\"status FINISHED\">FINISHED</span></td>"))
        #expect(text.contains("1 <span class=\"status RUNNING\">RUNNING</span>, 1 not run"))
        // Sweep 2 is running, so the table refreshes itself.
        #expect(text.contains("<tr data-sweep=\"2\" data-live=\"1\">"))
        #expect(text.contains("<tr data-sweep=\"1\" data-live=\"0\">"))
        #expect(text.contains("id=\"sweeps\" data-live=\"1\""))
        let fragment = site.respond(method: "GET", path: "/sweeps/table", query: nil).text
        #expect(fragment.hasPrefix("<table") && fragment.contains("sweep 2"))
        // Every page's navigation leads here.
        #expect(site.respond(method: "GET", path: "/runs", query: nil).text.contains("<a href=\"/sweeps\">sweeps</a>"))
    }

    @Test func aSweepPageShowsPointsRunsMetricsAndMeansOverSeeds() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        let text = site.respond(method: "GET", path: "/sweep/1", query: nil).text
        #expect(text.contains("<h1>Sweep 1 <span class=\"muted\">· 4 points × 2 stages</span></h1>"))
        #expect(text.contains("<th colspan=\"4\" class=\"stage\">stage 2 · classify</th>"))
        for run in 4...11 {
            #expect(text.contains("<a href=\"/run/\(run)\" class=\"run-link\" data-stage=\"\(run % 2 == 0 ? 1 : 2)\">"))
            #expect(text.contains("<input type=\"checkbox\" class=\"pick\" value=\"\(run)\"/>"))
        }
        // Point 4 (lr 2e-3, seed 1): its finetune (run 11) has the best top1 (0.4).
        let point4 = try #require(
            text.components(separatedBy: "<tr data-point=\"4\">").dropFirst().first?.components(separatedBy: "</tr>")
                .first)
        #expect(point4.contains("<code>2e-3</code>") && point4.contains("<code>1</code>"))
        #expect(point4.contains("<td class=\"num best\">0.4</td>") && !point4.contains("best\">2</td>"))
        #expect(point4.contains("<td class=\"num\">3</td>"), "compute of both stages: 1 + 2 TFLOPs")
        // Means over seeds: lr 1e-3 groups points 1 and 2, whose top1 are 0.1 and 0.2.
        let group = try #require(
            text.components(separatedBy: "<tr data-points=\"1,2\">").dropFirst().first?.components(separatedBy: "</tr>")
                .first)
        let sd = (0.005 as Double).squareRoot()
        #expect(group.contains("<td><code>1e-3</code></td><td class=\"num\">2</td>"))
        #expect(group.contains("0.15 ± \(RegistryTestText.value(sd))"), "\(group)")
        #expect(
            text.contains("<a href=\"/compare?runs=5,7,9,11\" class=\"compare-stage\">compare all stage 2 runs</a>"))
        #expect(text.contains("data-live=\"0\"") && !text.contains("id=\"live\""))
        #expect(text.contains("<a href=\"/api/sweeps/1\">JSON</a>"))

        // A live sweep: its running point, its point not run, the refresh marker and fragment.
        let live = site.respond(method: "GET", path: "/sweep/2", query: nil).text
        #expect(live.contains("<td data-status=\"RUNNING\"><span class=\"status RUNNING\">RUNNING</span></td>"))
        #expect(live.contains("<td class=\"muted\" data-status=\"\">not run</td>"))
        #expect(live.contains("id=\"progress\" data-live=\"1\"") && live.contains("id=\"live\""))
        #expect(!live.contains("Mean ± sd"))
        let fragment = site.respond(method: "GET", path: "/sweep/2/table", query: nil).text
        #expect(fragment.hasPrefix("<p class=\"progress\" id=\"progress\" data-live=\"1\">"))

        let missing = site.respond(method: "GET", path: "/sweep/9", query: nil)
        #expect(missing.status == 404 && missing.text.contains("there is no sweep 9"))
        #expect(site.respond(method: "GET", path: "/sweep/0", query: nil).status == 400)
    }

    @Test func aSweepMembersRunPageLinksToItsSweep() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        let member = site.respond(method: "GET", path: "/run/7", query: nil).text
        #expect(
            member.contains(
                "<b>sweep:</b> <a href=\"/sweep/1\" class=\"sweep-link\">sweep 1</a>, point 2 "
                    + "(optim.base_lr=1e-3 seed=1), stage 2</p>"))
        #expect(!site.respond(method: "GET", path: "/run/2", query: nil).text.contains("class=\"sweep-link\""))
    }

    @Test func progressIsLiveBetweenTwoPointsButNotForAnAbandonedSweep() throws {
        let fixture = try UISweepRegistry()
        let registry = try fixture.base.readOnly()
        let record = try registry.sweep(1)
        let members = try registry.members(ofSweep: 1)
        let ended = try #require(members.compactMap(\.run.endedAt).max())
        // All of sweep 1 finished: not live, whenever asked.
        #expect(!SweepProgress(record: record, members: members, now: ended).isLive)
        // Its last point's finetune not started yet: live just after, not a minute later.
        let partial = Array(members.dropLast())
        let lastEnd = try #require(partial.compactMap(\.run.endedAt).max())
        let soon = SweepProgress(record: record, members: partial, now: lastEnd.addingTimeInterval(5))
        #expect(soon.isLive && soon.notRun == 1 && soon.summary == "7 FINISHED, 1 not run")
        #expect(!SweepProgress(record: record, members: partial, now: lastEnd.addingTimeInterval(120)).isLive)
    }
}

/// What the pages show in bold, and how they lay out a run and a comparison.
@Suite struct PageLayoutTests {
    @Test func onlyADifferentBestResultIsBold() {
        #expect(UILayout.best(of: [0.1, 0.3, nil], metric: "top1") == 0.3)
        #expect(UILayout.best(of: [1.2, 0.9, .nan], metric: "val_loss") == 0.9)
        #expect(UILayout.best(of: [0.2, 0.2], metric: "top1") == nil)
        #expect(UILayout.best(of: [0.5], metric: "top1") == nil)
        #expect(UILayout.best(of: [1.0, 2.0], metric: "compute_tflops") == nil)
        #expect(UILayout.best(of: [1.0, 2.0], metric: "lr") == nil)
    }

    @Test func theRunPageStartsWithItsHeadingAndCompareDrawsNoOnePointCurves() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        let run = site.respond(method: "GET", path: "/run/2", query: nil).text
        let heading = try #require(run.range(of: "<h1>run 2"))
        let links = try #require(run.range(of: "id=\"lineage-link\""))
        #expect(heading.lowerBound < links.lowerBound)
        // Runs 5 and 7 logged each metric once: a table, no curves; top1 differs, compute does not.
        let compare = site.respond(method: "GET", path: "/compare", query: "runs=5,7").text
        #expect(!compare.contains("<h2>Curves</h2>") && !compare.contains("<svg"))
        #expect(compare.contains("<td class=\"num best\">0.2</td>"))
        #expect(!compare.contains("<td class=\"num best\">2</td>"))
        #expect(site.respond(method: "GET", path: "/compare", query: "runs=2,3").text.contains("<h2>Curves</h2>"))
    }

    @Test func aOneStageSweepShowsItsComputeOnce() throws {
        let fixture = try UISweepRegistry()
        let site = UISite(registry: try fixture.base.readOnly())
        #expect(site.respond(method: "GET", path: "/sweep/1", query: nil).text.contains(">TFLOPs</th>"))
        #expect(!site.respond(method: "GET", path: "/sweep/2", query: nil).text.contains(">TFLOPs</th>"))
    }
}

/// The metric format of the pages (`RegistryText.value`: 6 significant digits).
enum RegistryTestText {
    static func value(_ value: Double) -> String { String(format: "%.6g", value) }
}
