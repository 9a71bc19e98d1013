using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.EndToEnd;
using OrleansJobs.Workers;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.Workers;

/// <summary>A silo process with external job types for the worker library, and the API host process.</summary>
public sealed class JobWorkerFixture() : ApiSystemFixture("worker-lib", SiloSettings())
{
    /// <summary>One job type (one queue) per test, so that one test's leftovers never reach another's worker.</summary>
    public static readonly string[] Types = ["wl-flow", "wl-retry", "wl-idle", "wl-lost", "wl-stop", "wl-transient", "wl-pair", "wl-lapse"];

    private static Dictionary<string, string> SiloSettings()
    {
        var settings = new Dictionary<string, string>();
        foreach (var type in Types)
        {
            settings[$"ExternalJobTypes__{type}__MinLeaseDuration"] = "00:00:01";
            settings[$"ExternalJobTypes__{type}__MaxLeaseDuration"] = "00:10:00";
        }

        return settings;
    }
}

/// <summary>
/// The worker library (<see cref="JobWorker"/>) against the real system: a silo process, the API
/// host process and PostgreSQL. Every request the worker sends goes through a <see cref="RecordingHandler"/>.
/// </summary>
public sealed class JobWorkerTests(JobWorkerFixture fixture, ITestOutputHelper output) : IClassFixture<JobWorkerFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Handler_ReportsProgressCheckpointsAndMessages_AndReturning_CompletesTheJob()
    {
        var id = await SubmitAsync("wl-flow", """{"items": 4}""");
        var atItem2 = new TaskCompletionSource();
        var goOn = new TaskCompletionSource();
        await using var worker = await StartAsync("wl-flow", async (job, cancellationToken) =>
        {
            var items = job.Parameters.GetProperty("items").GetInt32();
            for (var item = job.Checkpoint.Processed + 1; item <= items; item++)
            {
                var counters = new Dictionary<string, long> { ["bytes"] = item * 10 };
                await job.ReportProgressAsync(item, items, new WorkerCheckpoint($"item-{item}", item, counters), cancellationToken);
                if (item == 2)
                {
                    job.Log(WorkerMessageLevel.Warning, "slow disk");
                    atItem2.SetResult();
                    await goOn.Task.WaitAsync(cancellationToken);
                }
            }

            job.SetFinalCheckpoint(new WorkerCheckpoint("done", items));
        });

        await atItem2.Task.WaitAsync(Deadline);
        // The handler waits without reporting: the message goes on its own, and heartbeats keep the lease.
        var mid = await WaitForAsync(id, j => Texts(j).Contains("slow disk"));
        await Wait.UntilAsync("a heartbeat", () => Task.FromResult(worker.Requests.Reports(id, "heartbeat").Count > 0), Deadline);
        Assert.Equal("Running", mid.GetProperty("status").GetString());
        Assert.Equal("wl-flow-worker", mid.GetProperty("worker").GetString());
        var checkpoint = mid.GetProperty("checkpoint");
        Assert.Equal("item-2", checkpoint.GetProperty("cursor").GetString());
        Assert.Equal(2, checkpoint.GetProperty("processed").GetInt64());
        Assert.Equal(20, checkpoint.GetProperty("counters").GetProperty("bytes").GetInt64());
        Assert.Equal(2, mid.GetProperty("progress").GetProperty("processed").GetInt64());
        Assert.Equal(4, mid.GetProperty("progress").GetProperty("total").GetInt64());
        Assert.Equal(0.5, mid.GetProperty("progress").GetProperty("fraction").GetDouble(), 3);
        Assert.Single(worker.Requests.Reports(id, "messages"));

        goOn.SetResult();
        var done = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal("done", done.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(4, done.GetProperty("checkpoint").GetProperty("processed").GetInt64());
        Assert.Single(Texts(done), "slow disk");
        Assert.Equal(JsonValueKind.Null, done.GetProperty("worker").ValueKind);
        Assert.Single(worker.Requests.Reports(id, "complete"));
        Assert.Equal(4, worker.Requests.Reports(id, "progress").Count);
        Assert.Empty(worker.Requests.Reports(id, "fail"));
        Assert.All(worker.Requests.Requests.Where(r => r.Path == "/api/workers/claim"),
            claim => Assert.DoesNotContain("\"device\"", claim.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandlerThatThrows_FailsTheAttempt_AndTheRetryResumesFromTheLastCheckpoint()
    {
        var id = await SubmitAsync("wl-retry", """{"items": 5}""");
        var runs = new ConcurrentQueue<(int Attempt, WorkerCheckpoint Checkpoint)>();
        await using var worker = await StartAsync("wl-retry", async (job, cancellationToken) =>
        {
            runs.Enqueue((job.Attempt, job.Checkpoint));
            for (var item = job.Checkpoint.Processed + 1; item <= 5; item++)
            {
                await job.ReportProgressAsync(item, 5, new WorkerCheckpoint($"c{item}", item), cancellationToken);
                if (job.Attempt == 1 && item == 3)
                {
                    throw new InvalidOperationException("scanner jammed");
                }
            }
        });

        var done = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Collection(runs,
            first => Assert.Equal((1, (string?)null, 0L), (first.Attempt, first.Checkpoint.Cursor, first.Checkpoint.Processed)),
            retry => Assert.Equal((2, "c3", 3L), (retry.Attempt, retry.Checkpoint.Cursor, retry.Checkpoint.Processed)));
        var failed = done.GetProperty("attempts").EnumerateArray().First(a => a.GetProperty("number").GetInt32() == 1);
        Assert.Contains("scanner jammed", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        var fail = Assert.Single(worker.Requests.Reports(id, "fail"));
        using (var body = JsonDocument.Parse(fail.Body))
        {
            Assert.Equal("c3", body.RootElement.GetProperty("checkpoint").GetProperty("cursor").GetString());
        }

        Assert.Single(worker.Requests.Reports(id, "complete"));
        Assert.Equal("c5", done.GetProperty("checkpoint").GetProperty("cursor").GetString());
        // Attempt 1 reported items 1-3, the retry 4-5: nothing before the checkpoint was done twice.
        Assert.Equal(5, worker.Requests.Reports(id, "progress").Count);
    }

    [Fact]
    public async Task IdleWorker_BacksOffBetweenEmptyClaims_AndStillPicksUpANewJob()
    {
        var started = Stopwatch.GetTimestamp();
        var claimed = new TaskCompletionSource<string>();
        await using var worker = await StartAsync("wl-idle", (job, _) =>
        {
            claimed.TrySetResult(job.Id);
            return Task.CompletedTask;
        });

        await Wait.UntilAsync("six empty claims", () => Task.FromResult(worker.Requests.Claims >= 6), Deadline, poll: TimeSpan.FromMilliseconds(20));
        var claims = worker.Requests.Requests.Where(r => r.Path == "/api/workers/claim").Take(6).ToList();
        var gaps = claims.Zip(claims.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a.Timestamp, b.Timestamp)).ToList();
        output.WriteLine($"gaps between claims: {string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:0} ms"))}");
        // Waits of 100, 200, 400, 800 and 1600 ms, each ±20%: at least 2.48 s for six claims, where a busy loop takes milliseconds.
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(2.4), $"six claims within {Stopwatch.GetElapsedTime(started)}");
        Assert.True(gaps[^1] >= TimeSpan.FromMilliseconds(1250), $"the fifth wait was {gaps[^1]}");

        // The wait never exceeds 5 s (+20%): a job submitted now is claimed within 6 s and a request's time.
        var id = await SubmitAsync("wl-idle", "{}");
        var clock = Stopwatch.StartNew();
        Assert.Equal(id, await claimed.Task.WaitAsync(Deadline));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the job waited {clock.Elapsed} for a claim");
        await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
    }

    [Theory]
    [InlineData("cancel", "Cancelled")]
    [InlineData("kill", "Killed")]
    public async Task ControlActionWhileTheHandlerRuns_CancelsItsTokenAsALostLease_AndNothingMoreIsReported(string action, string status)
    {
        var id = await SubmitAsync("wl-lost", "{}");
        var running = new TaskCompletionSource();
        var leaseLostWhenCancelled = false;
        LeaseLostException? reportAfterwards = null;
        var handlerReturned = new TaskCompletionSource();
        await using var worker = await StartAsync("wl-lost", async (job, cancellationToken) =>
        {
            await job.ReportProgressAsync(1, 10, new WorkerCheckpoint("c1", 1), cancellationToken);
            running.SetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                leaseLostWhenCancelled = job.LeaseLost.IsCancellationRequested;
            }

            // With the handler's token, cancelled by the loss: still the lost lease, not a plain cancellation.
            reportAfterwards = await Assert.ThrowsAsync<LeaseLostException>(() => job.ReportProgressAsync(2, 10, new WorkerCheckpoint("c2", 2), cancellationToken));
            job.Log(WorkerMessageLevel.Info, "after the lease was lost");
            handlerReturned.SetResult();
            // Returning normally: even so, the job must not be completed.
        });

        await running.Task.WaitAsync(Deadline);
        using (var response = await Http.PostJsonAsync($"/api/jobs/{id}/{action}", """{"reason": "not needed"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The next heartbeat (a third of the 3 s lease) answers 409, which cancels the handler's token.
        await handlerReturned.Task.WaitAsync(Deadline);
        Assert.True(leaseLostWhenCancelled, "the handler's token was cancelled, but LeaseLost was not");
        Assert.Equal(status, reportAfterwards!.JobStatus);
        Assert.Equal(id, reportAfterwards.JobId);
        Assert.True(reportAfterwards.CancellationToken.IsCancellationRequested);

        await worker.StopAsync();
        foreach (var kind in new[] { "complete", "fail", "release", "messages" })
        {
            Assert.Empty(worker.Requests.Reports(id, kind));
        }

        Assert.Single(worker.Requests.Reports(id, "progress"));
        var job = await GetAsync(id);
        Assert.Equal(status, job.GetProperty("status").GetString());
        Assert.Equal("c1", job.GetProperty("checkpoint").GetProperty("cursor").GetString());
    }

    [Fact]
    public async Task StopMidJob_ReleasesTheJobWithItsLastCheckpoint_AndTheNextWorkerResumesThereInTheSameAttempt()
    {
        var id = await SubmitAsync("wl-stop", "{}");
        var running = new TaskCompletionSource();
        var first = await StartAsync("wl-stop", async (job, cancellationToken) =>
        {
            await job.ReportProgressAsync(3, 10, new WorkerCheckpoint("c3", 3), cancellationToken);
            running.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        });
        await using (first)
        {
            await running.Task.WaitAsync(Deadline);
            await first.StopAsync();
        }

        var release = Assert.Single(first.Requests.Reports(id, "release"));
        using (var body = JsonDocument.Parse(release.Body))
        {
            Assert.Equal("c3", body.RootElement.GetProperty("checkpoint").GetProperty("cursor").GetString());
            Assert.Equal(3, body.RootElement.GetProperty("progress").GetProperty("processed").GetInt64());
        }

        Assert.Empty(first.Requests.Reports(id, "complete"));
        Assert.Empty(first.Requests.Reports(id, "fail"));
        var released = await GetAsync(id);
        Assert.Equal("Queued", released.GetProperty("status").GetString());
        Assert.Equal("c3", released.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(JsonValueKind.Null, released.GetProperty("worker").ValueKind);
        var handoff = Assert.Single(await JournalAsync(id), e => e.GetProperty("type").GetString() == "handoff");
        Assert.Contains("worker wl-stop-worker gave the job back: the worker stopped", handoff.GetProperty("reason").GetString(), StringComparison.Ordinal);

        var resumedAt = new TaskCompletionSource<(int Attempt, string? Cursor)>();
        await using var second = await StartAsync("wl-stop", (job, _) =>
        {
            resumedAt.TrySetResult((job.Attempt, job.Checkpoint.Cursor));
            return Task.CompletedTask;
        });
        Assert.Equal((1, "c3"), await resumedAt.Task.WaitAsync(Deadline));
        var done = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal(1, done.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task TransientFailures_AreRetriedWithinTheLease_AndACompletionWhoseAnswerWasLostIsNotSentAgainAsNew()
    {
        var id = await SubmitAsync("wl-transient", "{}");
        var progressTries = 0;
        var completeTries = 0;
        Exception? handlerSaw = null;
        await using var worker = await StartAsync("wl-transient", async (job, cancellationToken) =>
        {
            try
            {
                await job.ReportProgressAsync(1, 1, new WorkerCheckpoint("c1", 1), cancellationToken);
            }
            catch (Exception ex)
            {
                handlerSaw = ex;
                throw;
            }
        }, faults: request =>
        {
            if (request.Path.EndsWith("/progress", StringComparison.Ordinal) && Interlocked.Increment(ref progressTries) <= 2)
            {
                return RequestFault.ServiceUnavailable;
            }

            return request.Path.EndsWith("/complete", StringComparison.Ordinal) && Interlocked.Increment(ref completeTries) == 1
                ? RequestFault.LoseAnswer
                : RequestFault.None;
        });

        await Wait.UntilAsync("the worker to give up on the completion's answer", () => Task.FromResult(worker.Requests.Reports(id, "complete").Count >= 2), Deadline);
        await worker.StopAsync();
        Assert.Null(handlerSaw);
        Assert.Equal(3, worker.Requests.Reports(id, "progress").Count);
        // The second try met the first one's completion (409, Completed) and took it as the answer: no fail, no third try.
        Assert.Equal(2, worker.Requests.Reports(id, "complete").Count);
        Assert.Empty(worker.Requests.Reports(id, "fail"));
        var done = await GetAsync(id);
        Assert.Equal("Completed", done.GetProperty("status").GetString());
        Assert.Equal("c1", done.GetProperty("checkpoint").GetProperty("cursor").GetString());
        var journal = await JournalAsync(id);
        Assert.Single(journal, e => e.GetProperty("to").GetString() == "Completed");
    }

    [Fact]
    public async Task HeartbeatsFailingForTheWholeLease_CancelTheHandlerAsALostLease_AndTheNextClaimResumesFromTheCheckpoint()
    {
        var id = await SubmitAsync("wl-lapse", "{}");
        var unreachable = 1;
        var runs = new ConcurrentQueue<(int Attempt, string? Cursor)>();
        var firstRunSawLostLease = new TaskCompletionSource<bool>();
        await using var worker = await StartAsync("wl-lapse", async (job, cancellationToken) =>
        {
            runs.Enqueue((job.Attempt, job.Checkpoint.Cursor));
            if (runs.Count > 1)
            {
                return;
            }

            await job.ReportProgressAsync(4, 10, new WorkerCheckpoint("c4", 4), cancellationToken);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                firstRunSawLostLease.SetResult(job.LeaseLost.IsCancellationRequested);
                Volatile.Write(ref unreachable, 0);
            }
        }, faults: request => Volatile.Read(ref unreachable) == 1 && request.Path.EndsWith("/heartbeat", StringComparison.Ordinal)
            ? RequestFault.ServiceUnavailable
            : RequestFault.None);

        // Heartbeats are retried for the 3 s lease, then the worker gives the job up as the API does.
        Assert.True(await firstRunSawLostLease.Task.WaitAsync(Deadline));
        var done = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal([(1, null), (1, "c4")], runs);
        Assert.Equal(1, done.GetProperty("recoveries").GetInt32());
        Assert.True(worker.Requests.Reports(id, "heartbeat").Count >= 3, "the heartbeat was not retried");
        Assert.Empty(worker.Requests.Reports(id, "fail"));
        Assert.Empty(worker.Requests.Reports(id, "release"));
        Assert.Single(worker.Requests.Reports(id, "complete"));
    }

    [Fact]
    public async Task DeviceAgent_ClaimsOnlyItsDevicesJob_OnceItsHeartbeatHasTheDeviceOnline()
    {
        await RegisterDeviceAsync("wl-plotter-1");
        await RegisterDeviceAsync("wl-plotter-2");
        var mine = await Http.SubmitJobAsync("""{"type": "plot", "device": "wl-plotter-1"}""");
        var other = await Http.SubmitJobAsync("""{"type": "plot", "device": "wl-plotter-2"}""");
        var ran = new ConcurrentQueue<string>();
        await using var worker = await StartAsync("wl-agent", (job, _) =>
        {
            ran.Enqueue(job.Id);
            return Task.CompletedTask;
        }, device: "wl-plotter-1");

        // The device is Offline until its agent heartbeats it: the claims are refused (400 naming workerId) and tried again later.
        await Wait.UntilAsync("two refused claims", () => Task.FromResult(worker.Requests.Claims >= 2), Deadline);
        Assert.True(worker.IsRunning, "a refused device claim ended the worker");
        using (var heartbeat = await Http.PostJsonAsync("/api/devices/wl-plotter-1/heartbeat", """{"agentId": "wl-agent-worker"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, heartbeat.StatusCode);
        }

        await WaitForAsync(mine, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal([mine], ran);
        Assert.Equal("Queued", (await GetAsync(other)).GetProperty("status").GetString());
        Assert.All(worker.Requests.Requests.Where(r => r.Path == "/api/workers/claim"), claim =>
        {
            using var body = JsonDocument.Parse(claim.Body);
            Assert.Equal("wl-plotter-1", body.RootElement.GetProperty("device").GetString());
            Assert.False(body.RootElement.TryGetProperty("types", out _), claim.Body);
        });
        using var cancel = await Http.PostJsonAsync($"/api/jobs/{other}/cancel", "{}");
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
    }

    [Fact]
    public async Task MaxConcurrentJobs_RunsThatManyJobsAtOnce()
    {
        var ids = new[] { await SubmitAsync("wl-pair", "{}"), await SubmitAsync("wl-pair", "{}") };
        var bothRunning = new TaskCompletionSource();
        var running = 0;
        await using var worker = await StartAsync("wl-pair", async (job, cancellationToken) =>
        {
            if (Interlocked.Increment(ref running) == 2)
            {
                bothRunning.SetResult();
            }

            await bothRunning.Task.WaitAsync(cancellationToken);
        }, maxConcurrentJobs: 2);

        await bothRunning.Task.WaitAsync(Deadline);
        foreach (var id in ids)
        {
            await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        }
    }

    [Fact]
    public async Task ClaimRefusedAsInvalid_EndsRunAsyncWithAConfigurationError()
    {
        using var http = new HttpClient { BaseAddress = Http.BaseAddress };
        var key = await fixture.CreateKeyAsync("misconfigured worker", ["worker"], jobTypes: ["no-such-type"]);
        await using var worker = new JobWorker(new JobWorkerOptions { WorkerId = "misconfigured", Types = ["no-such-type"], ApiKey = key }, http);

        var error = await Assert.ThrowsAsync<WorkerApiException>(() => worker.RunAsync((_, _) => Task.CompletedTask).WaitAsync(Deadline));
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("types[0]", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A worker named after <paramref name="type"/> that claims jobs of that type, or of <paramref name="device"/> when given.</summary>
    /// <remarks>Its API key is a worker key made for that type (or device) alone.</remarks>
    private async Task<RunningWorker> StartAsync(string type, Func<WorkerJob, CancellationToken, Task> handler, Func<RecordedRequest, RequestFault>? faults = null,
        int maxConcurrentJobs = 1, string? device = null)
    {
        var key = device is null
            ? await fixture.CreateKeyAsync($"{type} worker {Guid.NewGuid():N}", ["worker"], jobTypes: [type])
            : await fixture.CreateKeyAsync($"{device} agent {Guid.NewGuid():N}", ["worker"], devices: [device]);
        var options = new JobWorkerOptions
        {
            ApiKey = key,
            WorkerId = $"{type}-worker",
            Types = device is null ? [type] : [],
            Device = device,
            LeaseDuration = TimeSpan.FromSeconds(3),
            MaxConcurrentJobs = maxConcurrentJobs,
        };
        return new RunningWorker(options, Http.BaseAddress!, handler, faults, new TestOutputLogger(output, options.WorkerId));
    }

    private async Task RegisterDeviceAsync(string id)
    {
        // One heartbeat keeps it Online for the whole test.
        using var response = await Http.PostJsonAsync("/api/devices", $$"""{"id": "{{id}}", "kind": "plotter", "name": "{{id}}", "heartbeatTimeoutSeconds": 3600}""");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private Task<string> SubmitAsync(string type, string parameters) =>
        Http.SubmitJobAsync($$"""{"type": "{{type}}", "parameters": {{parameters}}}""");

    private async Task<JsonElement> GetAsync(string id) =>
        await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));

    private Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> accept) =>
        Wait.ForAsync($"job {id}", () => GetAsync(id), accept, Deadline);

    private static List<string?> Texts(JsonElement job) => [.. job.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString())];

    private async Task<List<JsonElement>> JournalAsync(string id)
    {
        // The journal is a projection: wait until it has caught up with the job's state.
        var version = (await GetAsync(id)).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray()];
    }

    /// <summary>A <see cref="JobWorker"/> running in the background over a <see cref="RecordingHandler"/>.</summary>
    private sealed class RunningWorker : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly HttpClient _http;
        private readonly JobWorker _worker;
        private readonly Task _run;

        public RunningWorker(JobWorkerOptions options, Uri api, Func<WorkerJob, CancellationToken, Task> handler,
            Func<RecordedRequest, RequestFault>? faults, TestOutputLogger logger)
        {
            Requests = new RecordingHandler { Faults = faults };
            _http = new HttpClient(Requests) { BaseAddress = api };
            _worker = new JobWorker(options, _http, logger);
            _run = Task.Run(() => _worker.RunAsync(handler, _stop.Token));
        }

        public RecordingHandler Requests { get; }

        public bool IsRunning => !_run.IsCompleted;

        /// <summary>Stops the worker as Ctrl+C does, and waits until RunAsync has returned (every job's last report sent).</summary>
        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(Deadline);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(Deadline);
            await _worker.DisposeAsync();
            _http.Dispose();
            _stop.Dispose();
        }
    }
}
