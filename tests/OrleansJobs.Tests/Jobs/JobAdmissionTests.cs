using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>Per-type run slots: the limit holds, and waiting jobs start by priority, then first come first served.</summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class JobAdmissionTests(AdoNetClusterFixture fixture)
{
    private const string Type = AdoNetClusterFixture.LimitedType;
    private const int Slots = AdoNetClusterFixture.LimitedSlots;

    [Fact]
    public async Task AThousandQueuedJobs_RespectTheTypeLimit_AndStartByPriorityThenArrival()
    {
        var client = fixture.Cluster.Client;
        var run = Guid.NewGuid().ToString("N")[..8];

        // Three jobs hang at their only item: every slot is taken while the others queue.
        var blockers = Enumerable.Range(0, Slots).Select(i => client.GetGrain<IJobGrain>($"{run}-block-{i}")).ToList();
        foreach (var blocker in blockers)
        {
            Assert.Equal(JobStatus.Running, (await blocker.SubmitAsync(Job("""{"items": 1, "hangAtItem": 1}""", 0))).Job!.Status);
        }

        var random = new Random(7);
        var queued = new List<(string Id, int Priority, int Order)>();
        for (var i = 0; i < 1000; i++)
        {
            queued.Add(($"{run}-q-{i:D4}", random.Next(0, 5), i));
        }

        await Parallel.ForEachAsync(queued, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (job, _) =>
        {
            var result = await client.GetGrain<IJobGrain>(job.Id).SubmitAsync(Job("""{"items": 1, "record": false}""", job.Priority));
            Assert.Equal(JobStatus.Queued, result.Job!.Status);
            Assert.StartsWith("waiting for a slot: 3 of 3", result.Job.QueuedReason, StringComparison.Ordinal);
        });

        // Submission order is the queue's arrival order; read it back before freeing the slots.
        var arrival = new Dictionary<string, DateTimeOffset>();
        foreach (var job in queued)
        {
            arrival[job.Id] = (await client.GetGrain<IJobGrain>(job.Id).GetAsync())!.CreatedAt;
        }

        foreach (var blocker in blockers)
        {
            await blocker.ControlAsync(new JobControl(JobAction.Kill, "test", "free the slot", true));
        }

        var finished = new List<JobSnapshot>();
        await Wait.UntilAsync("all 1000 queued jobs to complete", async () =>
        {
            finished.Clear();
            foreach (var job in queued)
            {
                finished.Add((await client.GetGrain<IJobGrain>(job.Id).GetAsync())!);
            }

            return finished.All(j => j.Status == JobStatus.Completed);
        }, TimeSpan.FromMinutes(3), () => Task.FromResult(
            $"{finished.Count(j => j.Status == JobStatus.Completed)} completed, {finished.Count(j => j.Status == JobStatus.Queued)} queued"));

        // Never more than the limit at once.
        var events = finished.SelectMany(j => new[] { (At: j.StartedAt!.Value, Delta: 1), (At: j.FinishedAt!.Value, Delta: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Delta).ToList();
        var concurrent = 0;
        var peak = 0;
        foreach (var e in events)
        {
            concurrent += e.Delta;
            peak = Math.Max(peak, concurrent);
        }

        Assert.InRange(peak, 1, Slots);

        // Start order: priority first, then arrival. Up to `Slots` jobs start together, and a granted job
        // records its start only once its own activation has taken the grant (later on a loaded machine),
        // so a job may overtake another only within a few such windows. A wrong order across priorities
        // (about 200 jobs each) would show as a drift of hundreds.
        var priorityOf = queued.ToDictionary(q => q.Id, q => q.Priority);
        var started = finished.OrderBy(j => j.StartedAt).Select(j => j.Id).ToList();
        var expected = queued.OrderByDescending(q => q.Priority).ThenBy(q => arrival[q.Id]).ThenBy(q => q.Order).Select(q => q.Id).ToList();
        var position = expected.Select((id, index) => (id, index)).ToDictionary(x => x.id, x => x.index);
        for (var i = 0; i < started.Count; i++)
        {
            var drift = Math.Abs(position[started[i]] - i);
            Assert.True(drift < Slots * 4,
                $"job {started[i]} (priority {priorityOf[started[i]]}) started {i}th but its turn was {position[started[i]]}");
        }

        // The last job reads Completed while its state is stored; its slot is given back after that.
        var stats = await Wait.ForAsync("every slot to be free", () => client.GetGrain<IRunSlotsGrain>(Type).GetStatsAsync(), s => s.Held == 0);
        Assert.Equal(0, stats.Position);
    }

    [Fact]
    public async Task CancellingAQueuedJob_TakesItOutOfTheQueue()
    {
        var client = fixture.Cluster.Client;
        var run = Guid.NewGuid().ToString("N")[..8];
        var blockers = Enumerable.Range(0, Slots).Select(i => client.GetGrain<IJobGrain>($"{run}-block-{i}")).ToList();
        foreach (var blocker in blockers)
        {
            await blocker.SubmitAsync(Job("""{"items": 1, "hangAtItem": 1}""", 0));
        }

        var waiting = client.GetGrain<IJobGrain>($"{run}-waiting");
        var later = client.GetGrain<IJobGrain>($"{run}-later");
        await waiting.SubmitAsync(Job("""{"items": 1}""", 0));
        Assert.EndsWith("position 2 in the queue", (await later.SubmitAsync(Job("""{"items": 1}""", 0))).Job!.QueuedReason, StringComparison.Ordinal);

        var cancel = await waiting.ControlAsync(new JobControl(JobAction.Cancel, "test", null, true));
        Assert.Equal(JobStatus.Cancelled, cancel.Job!.Status);
        await blockers[0].ControlAsync(new JobControl(JobAction.Kill, "test", null, true));

        await Wait.ForAsync("the later job to get the freed slot", async () => (await later.GetAsync())!, j => j.Status == JobStatus.Completed);
        Assert.Equal(JobStatus.Cancelled, (await waiting.GetAsync())!.Status);
        Assert.Null((await waiting.GetAsync())!.StartedAt);
        foreach (var blocker in blockers.Skip(1))
        {
            await blocker.ControlAsync(new JobControl(JobAction.Kill, "test", null, true));
        }
    }

    private static JobSubmission Job(string parameters, int priority) =>
        new(Type, parameters, priority, null, null, null, null, "test");
}
