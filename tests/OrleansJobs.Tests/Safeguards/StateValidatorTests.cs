using OrleansJobs.Devices;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Files;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Libraries;
using OrleansJobs.Safeguards;
using OrleansJobs.Tests.Files;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Safeguards;

/// <summary>The state validator's cluster, of its own: its runs repair whatever the database holds.</summary>
[CollectionDefinition(Name)]
public sealed class ValidatorClusterCollection : ICollectionFixture<AdoNetClusterFixture>
{
    public const string Name = "Validator cluster";
}

/// <summary>
/// The state validator on a real two-silo cluster and database: each test plants one kind of
/// inconsistency directly in the database or in a resource (a release that was lost), runs the
/// validator, and asserts that it was found, repaired, journaled on the job, and that the effect is
/// gone (the row, the reminder, the held slot, the file). A consistent, busy system is never changed.
/// </summary>
[Collection(ValidatorClusterCollection.Name)]
public sealed class StateValidatorTests(AdoNetClusterFixture fixture) : IDisposable
{
    private const string DeadSilo = "S127.0.0.1:1:1";

    private readonly List<LibraryTree> _trees = [];

    private IGrainFactory Grains => fixture.Cluster.Client;

    private TestDatabase Database => fixture.Database;

    [Fact]
    public async Task IndexRows_WrongStatusAndVersion_Missing_AndOfAJobWithoutState_AreRewrittenOrDeleted_AndJournaled()
    {
        var wrong = await CompletedJobAsync();
        var missing = await CompletedJobAsync();
        var orphan = $"orphan-{Guid.NewGuid():N}";
        // The index shows the first job still running at a version ahead of its state; the second has no row;
        // a third row, with journal and file operation rows, belongs to no job at all.
        await Database.ExecuteAsync("UPDATE job_index SET status = 'Running', state_version = state_version + 5 WHERE job_id = @id", ("id", wrong));
        await Database.ExecuteAsync("DELETE FROM job_index WHERE job_id = @id", ("id", missing));
        await Database.ExecuteAsync("""
            INSERT INTO job_index (job_id, job_type, status, created_at, updated_at, state_version) VALUES (@id, 'synthetic', 'Queued', now() - interval '1 hour', now() - interval '1 hour', 3);
            INSERT INTO job_journal (job_id, seq, at, entry_type) VALUES (@id, 1, now(), 'submitted');
            """, ("id", orphan));

        // Each is judged once its last write has settled: the findings may come in more than one run.
        var findings = new List<ValidatorFinding>();
        await Wait.UntilAsync("the validator to find the three index rows", async () =>
        {
            findings.AddRange((await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false))).Sample);
            return findings.Select(f => f.Subject).Intersect([wrong, missing, orphan]).Count() == 3;
        }, TimeSpan.FromSeconds(30), async () => $"found {string.Join("; ", findings)}; index rows: " + string.Join("; ", await Database.QueryAsync(
            "SELECT job_id || ' ' || status || ' v' || state_version FROM job_index WHERE job_id = ANY(@ids)", r => r.GetString(0), ("ids", new[] { wrong, missing, orphan }))));

        Assert.Contains(findings, f => f is { Kind: ValidatorFindings.IndexMismatch, Repaired: true } && f.Subject == wrong);
        Assert.Contains(findings, f => f is { Kind: ValidatorFindings.IndexMissing, Repaired: true } && f.Subject == missing);
        Assert.Contains(findings, f => f is { Kind: ValidatorFindings.IndexOrphan, Repaired: true } && f.Subject == orphan);
        Assert.Equal(3, findings.Count(f => f.Subject == wrong || f.Subject == missing || f.Subject == orphan)); // each found and repaired once
        foreach (var job in new[] { wrong, missing })
        {
            var state = (await Grains.GetGrain<IJobGrain>(job).GetAsync())!;
            Assert.Equal(("Completed", state.Version), await IndexRowAsync(job));
            Assert.Contains(await JournalWithRepairsAsync(job), e => e.Type == "validator_repair" && e.Actor == "validator");
        }

        Assert.Equal(0, await Database.ScalarAsync<int>(
            "SELECT (SELECT count(*) FROM job_index WHERE job_id = @id) + (SELECT count(*) FROM job_journal WHERE job_id = @id)::int", ("id", orphan)));
        await AssertConsistentAsync();
    }

    [Fact]
    public async Task AJobLeftRunningOnASiloThatIsGone_IsRecoveredThroughTheRecoveryPath_AndCompletes()
    {
        // A job state that says it runs on a silo that is no longer a member (and no activation anywhere).
        var source = await SubmitAsync("""{"items": 3, "itemMs": 10}""");
        await WaitForAsync(source, JobStatus.Completed);
        var job = $"gone-{Guid.NewGuid():N}";
        await Database.ExecuteAsync("""
            INSERT INTO grain_state (grain_id, state_name, version, payload, modified_on, watched_by)
            SELECT 'job/' || @job, state_name, 1, convert_to(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(
                    convert_from(payload, 'UTF8')::jsonb, '{Status}', '"Running"'), '{ActiveSilo}', to_jsonb(@silo::text)),
                    '{OwnerSilo}', to_jsonb(@silo::text)), '{Outbox}', '[]'), '{FinishedAt}', 'null')::text, 'UTF8'), now(), @silo
            FROM grain_state WHERE grain_id = 'job/' || @source AND state_name = 'job'
            """, ("job", job), ("silo", DeadSilo), ("source", source));

        var run = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false));

        Assert.Contains(run.Sample, f => f is { Kind: ValidatorFindings.JobOnGoneSilo, Repaired: true } && f.Subject == job);
        await WaitForAsync(job, JobStatus.Completed);
        var journal = await JournalWithRepairsAsync(job);
        Assert.Contains(journal, e => e.Type == "validator_repair" && e.Reason!.Contains(DeadSilo, StringComparison.Ordinal));
        Assert.Contains(journal, e => e.Type == "recovery");
    }

    [Fact]
    public async Task ResourcesHeldOrAwaitedByJobsThatEndedOrNeverExisted_AreReleased_AndTheJobsBehindThemRun()
    {
        var type = AdoNetClusterFixture.SingleSlotType;
        var ghost = $"ghost-{Guid.NewGuid():N}";
        var ghostWaiter = $"ghost-waiter-{Guid.NewGuid():N}";
        // Lost releases: a job that never existed holds the type's only slot, another waits for it.
        var slots = Grains.GetGrain<IRunSlotsGrain>(type);
        Assert.True((await slots.RequestAsync(ghost, 0, DateTimeOffset.UtcNow)).Granted);
        Assert.False((await slots.RequestAsync(ghostWaiter, 0, DateTimeOffset.UtcNow)).Granted);
        var blocked = await SubmitAsync("""{"items": 2, "itemMs": 10}""", type);
        await WaitForAsync(blocked, JobStatus.Queued);

        // A library's lock and a device held by a job that has ended.
        var ended = await CompletedJobAsync();
        var (library, _) = await NewLibraryAsync();
        Assert.True((await Grains.GetGrain<ILibraryLockGrain>(library).RequestAsync(ended, 0, DateTimeOffset.UtcNow)).Granted);
        var device = $"dev-{Guid.NewGuid():N}"[..20];
        await Grains.GetGrain<IDeviceGrain>(device).RegisterAsync(new DeviceDefinition("plotter", "validator test", "{}"), "test");
        Assert.True((await Grains.GetGrain<IDeviceOwnershipGrain>(device).RequestAsync(ended, 0, DateTimeOffset.UtcNow)).Granted);

        // A job that never existed waits in the pool of plotters (none is online to take it).
        var poolGhost = $"ghost-pool-{Guid.NewGuid():N}";
        Assert.False((await Grains.GetGrain<IDevicePoolGrain>("plotter").RequestAsync(poolGhost, 0, DateTimeOffset.UtcNow)).Granted);

        var run = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false));

        Assert.Contains(run.Sample, f => f is { Kind: ValidatorFindings.StaleWaiter, Repaired: true } && f.Subject == poolGhost);
        Assert.Equal(0, (await Grains.GetGrain<IDevicePoolGrain>("plotter").GetStatsAsync()).Position);
        var stats = await slots.GetStatsAsync();
        Assert.True(run.Sample.Any(f => f is { Kind: ValidatorFindings.StaleHolder, Repaired: true } && f.Subject == ghost),
            $"found {string.Join(", ", run.Found.Where(f => f.Value > 0))}; slots now {stats}; {string.Join("; ", run.Sample)}");
        Assert.Contains(run.Sample, f => f is { Kind: ValidatorFindings.StaleWaiter, Repaired: true } && f.Subject == ghostWaiter);
        Assert.Equal(2, run.Sample.Count(f => f is { Kind: ValidatorFindings.StaleHolder, Repaired: true } && f.Subject == ended));
        await WaitForAsync(blocked, JobStatus.Completed);
        Assert.Equal(0, (await Grains.GetGrain<ILibraryLockGrain>(library).GetStatsAsync()).Held);
        Assert.Equal(0, (await Grains.GetGrain<IDeviceOwnershipGrain>(device).GetStatsAsync()).Held);
        Assert.Equal(2, (await JournalWithRepairsAsync(ended, 2)).Count(e => e.Type == "validator_repair"));
        await AssertConsistentAsync();
    }

    [Fact]
    public async Task AWatchdogReminderOfAFinishedJob_IsRemoved()
    {
        var ended = await CompletedJobAsync();
        var serviceId = fixture.Cluster.Options.ServiceId;
        await Database.ExecuteAsync("""
            INSERT INTO orleansreminderstable (serviceid, grainid, remindername, starttime, period, grainhash, version)
            VALUES (@service, 'job/' || @id, 'watchdog', now() + interval '1 hour', 3600000, 0, 0)
            """, ("service", serviceId), ("id", ended));

        var run = await RunUntilFoundAsync(ValidatorFindings.StaleReminder, ended);

        Assert.True(run.Sample.Single(f => f.Subject == ended).Repaired);
        Assert.Equal(0, await Database.ScalarAsync<int>("SELECT count(*)::int FROM orleansreminderstable WHERE grainid = 'job/' || @id", ("id", ended)));
        Assert.Contains(await JournalWithRepairsAsync(ended), e => e.Type == "validator_repair");
    }

    [Fact]
    public async Task RowsOfDeletedLibrariesAndPurgedJobs_AreDeleted_AndADryRunOnlyCountsThem()
    {
        var gone = $"gone-lib-{Guid.NewGuid():N}"[..24];
        var purged = $"purged-{Guid.NewGuid():N}";
        await Database.ExecuteAsync("""
            INSERT INTO library_catalog (library_id, relative_path, size_bytes, modified_at, scanned_at) VALUES (@lib, 'a.txt', 1, now(), now()), (@lib, 'b.txt', 2, now(), now());
            INSERT INTO file_operations (job_id, op_seq, library_id, operation, source_path, target_path, status, created_at, updated_at)
                VALUES (@job, 1, @lib, 'copy', 'a.txt', 'x/a.txt', 'completed', now() - interval '1 hour', now() - interval '1 hour');
            INSERT INTO job_journal (job_id, seq, at, entry_type) VALUES (@job, 1, now() - interval '1 hour', 'submitted'), (@job, 2, now() - interval '1 hour', 'state_change');
            """, ("lib", gone), ("job", purged));

        var dry = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: true));
        Assert.True(dry.Found[ValidatorFindings.OrphanCatalogRows] >= 2 && dry.Found[ValidatorFindings.OrphanJournalRows] >= 2);
        Assert.Equal(0, dry.Repaired.Values.Sum());
        Assert.Equal(2, await Database.ScalarAsync<int>("SELECT count(*)::int FROM job_journal WHERE job_id = @id", ("id", purged)));

        var run = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false));

        Assert.True(run.Repaired[ValidatorFindings.OrphanCatalogRows] >= 2);
        Assert.True(run.Repaired[ValidatorFindings.OrphanOperationRows] >= 1);
        Assert.True(run.Repaired[ValidatorFindings.OrphanJournalRows] >= 2);
        Assert.Equal(0, await Database.ScalarAsync<int>("""
            SELECT ((SELECT count(*) FROM library_catalog WHERE library_id = @lib) + (SELECT count(*) FROM file_operations WHERE job_id = @job)
                + (SELECT count(*) FROM job_journal WHERE job_id = @job))::int
            """, ("lib", gone), ("job", purged)));
        var status = await Grains.GetGrain<IStateValidatorGrain>(0).GetStatusAsync();
        Assert.True(status.TotalRepaired[ValidatorFindings.OrphanJournalRows] >= 2);
        Assert.Equal(run.StartedAt, status.LastRun!.StartedAt);
    }

    [Fact]
    public async Task FileOperationsAnEndedJobLeftInProgress_AreSettledFromTheDisk_UnderTheLibrarysLock()
    {
        var (library, tree) = await NewLibraryAsync();
        var organize = await Grains.GetGrain<IJobGrain>(Guid.NewGuid().ToString()).SubmitAsync(
            new JobSubmission("organize", """{"target": "organized"}""", 0, 1, null, null, null, "test", null, library));
        var job = organize.Job!.Id;
        await WaitForAsync(job, JobStatus.Completed);
        var ops = await Database.QueryAsync("SELECT op_seq, target_path FROM file_operations WHERE job_id = @id AND status = 'completed' ORDER BY op_seq LIMIT 2",
            r => (Seq: r.GetInt64(0), Target: r.GetString(1)), ("id", job));
        // As a kill would leave them: both marked in progress; the first was copied, the second not (its copy is
        // still a temporary file beside its target).
        var second = Path.Combine(tree.Root, ops[1].Target);
        var temp = SafeFiles.TempPath(second, SafeFiles.JobTag(job), ops[1].Seq, "deadbeef");
        File.Move(second, temp);
        await Database.ExecuteAsync("UPDATE file_operations SET status = 'in_progress' WHERE job_id = @id AND op_seq = ANY(@seqs)",
            ("id", job), ("seqs", ops.Select(o => o.Seq).ToArray()));

        var run = await RunUntilFoundAsync(ValidatorFindings.OperationsInProgress, job);

        Assert.Equal(2, run.Repaired[ValidatorFindings.OperationsInProgress]);
        var statuses = await Database.QueryAsync("SELECT status FROM file_operations WHERE job_id = @id AND op_seq = ANY(@seqs) ORDER BY op_seq",
            r => r.GetString(0), ("id", job), ("seqs", ops.Select(o => o.Seq).ToArray()));
        Assert.Equal(["completed", "planned"], statuses);
        Assert.False(File.Exists(temp));
        Assert.Contains(await JournalWithRepairsAsync(job), e => e.Type == "validator_repair" && e.Reason!.Contains("2 file operation", StringComparison.Ordinal));
        Assert.Equal(0, (await Grains.GetGrain<ILibraryLockGrain>(library).GetStatsAsync()).Held);
    }

    [Fact]
    public async Task AnOrganizeJobKilledMidBatch_LeavesOperationsInProgress_WhichTheValidatorSettles_EveryFileInExactlyOnePlace()
    {
        var (library, tree) = await NewLibraryAsync(files: 1500);
        var original = LibraryTree.Snapshot(tree.Root).Where(LibraryTree.IsFile).ToDictionary(e => e.Key, e => e.Value.Split(' ')[2]);
        var job = (await Grains.GetGrain<IJobGrain>(Guid.NewGuid().ToString()).SubmitAsync(
            new JobSubmission("organize", """{"target": "organized", "mode": "move"}""", 0, 1, null, null, null, "test", null, library))).Job!.Id;
        var grain = Grains.GetGrain<IJobGrain>(job);
        await Wait.ForAsync("organize to move some files", () => grain.GetAsync(), j => j!.Progress.Processed >= 100);

        // A kill stops the run where it stands: the batch being copied stays marked in progress, its copies temporary files.
        Assert.Equal(JobStatus.Killed, (await grain.ControlAsync(new JobControl(JobAction.Kill, "test", "mid-batch", false))).Job!.Status);
        var inProgress = await Database.ScalarAsync<int>("SELECT count(*)::int FROM file_operations WHERE job_id = @id AND status = 'in_progress'", ("id", job));
        Assert.True(inProgress > 0, "the kill came between two batches: nothing was left in progress");

        var run = await RunUntilFoundAsync(ValidatorFindings.OperationsInProgress, job);

        Assert.Equal(inProgress, run.Repaired[ValidatorFindings.OperationsInProgress]);
        Assert.Equal(0, await Database.ScalarAsync<int>("SELECT count(*)::int FROM file_operations WHERE job_id = @id AND status = 'in_progress'", ("id", job)));
        var files = LibraryTree.Snapshot(tree.Root).Where(LibraryTree.IsFile).ToDictionary(e => e.Key, e => e.Value.Split(' ')[2]);
        Assert.DoesNotContain(files.Keys, f => f.EndsWith(".orleansjobs-tmp", StringComparison.Ordinal));
        var ops = await Database.QueryAsync("SELECT source_path, target_path, status FROM file_operations WHERE job_id = @id",
            r => (Source: r.GetString(0), Target: r.GetString(1), Status: r.GetString(2)), ("id", job));
        Assert.Equal(original.Count, files.Count); // every file in exactly one place: moved, or not yet
        foreach (var op in ops)
        {
            var (at, gone) = op.Status == "completed" ? (op.Target, op.Source) : (op.Source, op.Target);
            Assert.True(op.Status is "completed" or "planned", $"{op.Source}: {op.Status}");
            Assert.Equal(original[op.Source], files[at]);
            Assert.False(files.ContainsKey(gone), $"{op.Source} ({op.Status}) is also at {gone}");
        }

        Assert.Contains(await JournalWithRepairsAsync(job), e => e.Type == "validator_repair" && e.Reason!.Contains($"{inProgress} file operation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABusyConsistentSystem_IsNeverChanged()
    {
        var running = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SubmitAsync("""{"items": 400, "itemMs": 25}""")));
        var queued = await SubmitAsync("""{"items": 1, "itemMs": 10}""", runAfter: DateTimeOffset.UtcNow.AddHours(1));
        var paused = await SubmitAsync("""{"items": 1000, "itemMs": 20}""");
        await WaitForAsync(paused, JobStatus.Running);
        await Grains.GetGrain<IJobGrain>(paused).ControlAsync(new JobControl(JobAction.Pause, "test", null, false));
        var completed = await CompletedJobAsync();
        var mine = running.Append(queued).Append(paused).Append(completed).ToHashSet(StringComparer.Ordinal);

        // Repeated runs while the jobs run, checkpoint and change status: none of them is a finding.
        for (var i = 0; i < 5; i++)
        {
            var run = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false));
            Assert.DoesNotContain(run.Sample, f => mine.Contains(f.Subject));
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        foreach (var job in mine)
        {
            Assert.DoesNotContain(await JournalAsync(job), e => e.Type == "validator_repair");
            await Grains.GetGrain<IJobGrain>(job).ControlAsync(new JobControl(JobAction.Kill, "test", null, false));
        }
    }

    /// <summary>Runs the validator until it reports <paramref name="kind"/> for <paramref name="subject"/> (its change must first settle).</summary>
    private async Task<ValidationRun> RunUntilFoundAsync(string kind, string subject) =>
        (await Wait.ForAsync($"the validator to find {kind} of {subject}",
            () => Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: false)),
            run => run.Sample.Any(f => f.Kind == kind && f.Subject == subject), TimeSpan.FromSeconds(30)))!;

    /// <summary>A run after the repairs finds nothing more of what the test planted.</summary>
    private async Task AssertConsistentAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the repairs' own writes settle
        var again = await Grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest("test", "test", DryRun: true));
        Assert.Equal(0, again.Found[ValidatorFindings.IndexMismatch] + again.Found[ValidatorFindings.IndexMissing] + again.Found[ValidatorFindings.IndexOrphan]
            + again.Found[ValidatorFindings.StaleHolder] + again.Found[ValidatorFindings.StaleWaiter]);
    }

    private async Task<string> CompletedJobAsync()
    {
        var id = await SubmitAsync("""{"items": 2, "itemMs": 5}""");
        await WaitForAsync(id, JobStatus.Completed);
        return id;
    }

    private async Task<string> SubmitAsync(string parameters, string type = "synthetic", DateTimeOffset? runAfter = null)
    {
        var id = Guid.NewGuid().ToString();
        var result = await Grains.GetGrain<IJobGrain>(id).SubmitAsync(new JobSubmission(type, parameters, 0, 1, null, null, null, "test", runAfter));
        Assert.Equal(JobSubmitOutcome.Created, result.Outcome);
        return id;
    }

    private Task<JobSnapshot?> WaitForAsync(string id, JobStatus status) =>
        Wait.ForAsync($"job {id} to be {status}", () => Grains.GetGrain<IJobGrain>(id).GetAsync(), j => j?.Status == status, TimeSpan.FromSeconds(60));

    private async Task<(string, long)> IndexRowAsync(string job) =>
        (await Database.QueryAsync("SELECT status, state_version FROM job_index WHERE job_id = @id", r => (r.GetString(0), r.GetInt64(1)), ("id", job))).Single();

    private Task<List<(string Type, string? Actor, string? Reason)>> JournalAsync(string job) =>
        Database.QueryAsync("SELECT entry_type, actor, reason FROM job_journal WHERE job_id = @id ORDER BY seq",
            r => (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)), ("id", job));

    /// <summary>The job's journal once it holds <paramref name="repairs"/> validator repairs (their projection follows the job's write).</summary>
    private Task<List<(string Type, string? Actor, string? Reason)>> JournalWithRepairsAsync(string job, int repairs = 1) =>
        Wait.ForAsync($"{repairs} validator repair(s) in the journal of {job}", () => JournalAsync(job),
            rows => rows.Count(r => r.Type == "validator_repair") >= repairs, TimeSpan.FromSeconds(10));

    private async Task<(string Id, LibraryTree Tree)> NewLibraryAsync(int files = 12)
    {
        var id = $"lib-{Guid.NewGuid():N}"[..20];
        var tree = LibraryTree.Generate(fixture.LibrariesBase, id, files, 0, fixture.Outside);
        _trees.Add(tree);
        var created = await Grains.GetGrain<ILibraryGrain>(id).CreateAsync(new LibraryDefinition("validator", tree.Root, new()), "test");
        Assert.Equal(LibraryOutcome.Created, created.Outcome);
        return (id, tree);
    }

    public void Dispose()
    {
        foreach (var tree in _trees)
        {
            tree.Dispose();
        }
    }
}
