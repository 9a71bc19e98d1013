using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.Safeguards;

/// <summary>
/// Stops every job the job index shows active. Each job decides for itself (its grain's control
/// action, journaled <c>emergency_cleanup</c>), so a job that ended meanwhile is left as it is;
/// resources are released by the jobs as they end, as always. A cancel that does not end within
/// the grace is followed by a kill. Runs one at a time; a second run finds nothing left to stop.
/// </summary>
public sealed partial class EmergencyCleanupGrain(
    IGrainFactory grains, NpgsqlDataSource dataSource, TimeProvider time, ILogger<EmergencyCleanupGrain> logger)
    : Grain, IEmergencyCleanupGrain, IDisposable
{
    private const string ActiveSql = $"SELECT job_id, status FROM job_index WHERE status IN ({JobStatusSql.Active}) ORDER BY job_id";

    private const string Reason = "emergency cleanup";

    /// <summary>Jobs told at once.</summary>
    private const int Parallelism = 16;

    private readonly SemaphoreSlim _running = new(1, 1);
    private EmergencyCleanupRun? _last;

    public void Dispose() => _running.Dispose();

    public Task<EmergencyCleanupRun?> GetLastRunAsync() => Task.FromResult(_last);

    public async Task<EmergencyCleanupRun> RunAsync(EmergencyCleanupRequest request)
    {
        await _running.WaitAsync();
        try
        {
            var started = time.GetUtcNow();
            var active = await ActiveAsync();
            var found = active.GroupBy(j => j.Status).ToDictionary(g => g.Key, g => g.Count());
            if (request.DryRun)
            {
                return new EmergencyCleanupRun(true, started, time.GetUtcNow(), found, 0, 0, 0, 0, active.Count, await ValidateAsync(request));
            }

            var ids = active.Select(j => j.Id).ToList();
            var first = await ControlAllAsync(ids, request.ForceFail ? JobAction.ForceFail : JobAction.Cancel, request.Actor);
            var killed = 0;
            if (!request.ForceFail)
            {
                var left = await StillActiveWithinAsync(ids, request.Grace);
                killed = (await ControlAllAsync(left, JobAction.Kill, request.Actor)).Done;
            }

            var stillActive = (await StillActiveWithinAsync(ids, TimeSpan.FromSeconds(5))).Count;
            // What the stopped jobs left behind (a lock or a device whose release was lost) goes now, not at the next scheduled run.
            var validation = await ValidateAsync(request);
            var run = new EmergencyCleanupRun(false, started, time.GetUtcNow(), found, request.ForceFail ? 0 : first.Done, killed,
                request.ForceFail ? first.Done : 0, first.Unreachable, stillActive, validation);
            _last = run;
            LogRun(logger, request.Actor, active.Count, run.Cancelled, run.Killed, run.ForceFailed, run.Unreachable, run.StillActive);
            return run;
        }
        catch (NpgsqlException ex)
        {
            throw new DatabaseUnavailableException($"the emergency cleanup could not read the job index: {ex.Message}");
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>The state validator's run after the cleanup (dry with a dry cleanup); null when it failed.</summary>
    private async Task<ValidationRun?> ValidateAsync(EmergencyCleanupRequest request)
    {
        try
        {
            return await grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest(Reason, request.Actor, request.DryRun));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogValidationFailed(logger, ex);
            return null;
        }
    }

    /// <summary>Tells every job; counts those the action moved and those that could not be reached.</summary>
    private async Task<(int Done, int Unreachable)> ControlAllAsync(IReadOnlyList<string> ids, JobAction action, string actor)
    {
        using var gate = new SemaphoreSlim(Parallelism);
        var outcomes = await Task.WhenAll(ids.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                var result = await grains.GetGrain<IJobGrain>(id).ControlAsync(new JobControl(action, actor, Reason, false, Emergency: true));
                return result.Kind == JobActionKind.Transition ? 1 : 0;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogUnreachable(logger, ex, id, action);
                return -1;
            }
            finally
            {
                gate.Release();
            }
        }));
        return (outcomes.Count(o => o == 1), outcomes.Count(o => o == -1));
    }

    /// <summary>The jobs among <paramref name="ids"/> that have not ended by the end of <paramref name="grace"/> (asked of the jobs themselves).</summary>
    private async Task<List<string>> StillActiveWithinAsync(IReadOnlyList<string> ids, TimeSpan grace)
    {
        var deadline = time.GetUtcNow() + grace;
        var left = ids.ToList();
        while (true)
        {
            var statuses = await Task.WhenAll(left.Select(async id =>
            {
                try
                {
                    return (id, (await grains.GetGrain<IJobGrain>(id).GetAsync())?.Status);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    return (id, (JobStatus?)JobStatus.Running); // not reached: counted as still active
                }
            }));
            left = [.. statuses.Where(s => s.Item2 is { } status && !JobTransitions.IsTerminal(status)).Select(s => s.id)];
            if (left.Count == 0 || time.GetUtcNow() >= deadline)
            {
                return left;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time);
        }
    }

    private async Task<List<(string Id, string Status)>> ActiveAsync()
    {
        var jobs = new List<(string, string)>();
        await using var command = dataSource.CreateCommand(ActiveSql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            jobs.Add((reader.GetString(0), reader.GetString(1)));
        }

        return jobs;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Emergency cleanup by {Actor}: {Found} active jobs; {Cancelled} cancelled, {Killed} killed, {ForceFailed} force-failed, {Unreachable} not reached, {StillActive} still active")]
    private static partial void LogRun(ILogger logger, string actor, int found, int cancelled, int killed, int forceFailed, int unreachable, int stillActive);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Emergency cleanup: the state validator could not run after it; its next scheduled run repairs what is left")]
    private static partial void LogValidationFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Emergency cleanup: job {JobId} could not be told to {Action}")]
    private static partial void LogUnreachable(ILogger logger, Exception exception, string jobId, JobAction action);
}
