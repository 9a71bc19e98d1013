using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Concurrency;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Files;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Libraries;

/// <summary>
/// A library: its definition (durable grain state, mirrored in the <c>libraries</c> table) and its
/// lock, one holder at a time, kept by a <see cref="ResourceArbiter"/> that takes the jobs the job
/// index shows running on or waiting for the library over when the grain activates. Reentrant, so
/// that the lock's releases go on while a delete waits for them; changes of the definition take
/// turns among themselves.
/// </summary>
[Reentrant]
public sealed partial class LibraryGrain(
    [PersistentState("library", OrleansJobsDatabase.JobStore)] IPersistentState<LibraryState> state,
    IOptions<LibraryOptions> options,
    LibraryStore store,
    FileOperationStore operations,
    NpgsqlDataSource dataSource,
    TimeProvider time,
    ILogger<LibraryGrain> logger) : Grain, ILibraryGrain, ILibraryLockGrain, IDisposable
{
    private const string HoldersSql = $"""
        SELECT job_id FROM job_index WHERE library_id = @key AND status IN ({JobStatusSql.Running})
        """;

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE library_id = @key AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    /// <summary>How long a forced delete waits for the jobs it cancelled to give the lock back before it kills the holder.</summary>
    internal static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(10);

    /// <summary>... and after the kill.</summary>
    internal static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private const int WaitersShown = 20;

    private readonly SemaphoreSlim _changes = new(1, 1);
    private ResourceArbiter _arbiter = null!;
    private string? _deleting; // why new requests are refused while a forced delete clears the lock

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _arbiter = new ResourceArbiter(ResourceKey.Library(Id), new ResourceSource(HoldersSql, WaitingSql, Id), GrainFactory, dataSource, time, logger);
        _arbiter.Queue.Limit = 1;
        this.RegisterGrainTimer(_arbiter.CheckAsync, new GrainTimerCreationOptions
        {
            DueTime = ResourceArbiter.FirstCheck, Period = ResourceArbiter.CheckPeriod, Interleave = true, KeepAlive = false,
        });
        await _arbiter.ActivateAsync(cancellationToken);
    }

    public async Task<LibraryResult> CreateAsync(LibraryDefinition definition, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            var errors = new List<JobParameterError>();
            LibraryRules.CheckName(definition.Name, errors);
            LibraryRules.CheckSettings(definition.Settings, errors);
            var root = CanonicalRoot(definition.Root, errors);
            if (errors.Count > 0)
            {
                return new LibraryResult(LibraryOutcome.Invalid, null, errors);
            }

            if (state.State.Exists)
            {
                var same = state.State.Name == definition.Name && state.State.Root == root && state.State.Settings == definition.Settings;
                return new LibraryResult(same ? LibraryOutcome.Existing : LibraryOutcome.Conflict, Snapshot(),
                    same ? [] : [new("id", $"library '{Id}' exists with a different definition")]);
            }

            var now = time.GetUtcNow();
            var library = new LibraryState
            {
                Exists = true, Name = definition.Name, Root = root!, Settings = definition.Settings, CreatedAt = now, UpdatedAt = now, Version = 1,
            };
            if (await store.ClaimRootAsync(Id, library) is { } other)
            {
                return new LibraryResult(LibraryOutcome.Invalid, null,
                    [new("root", $"overlaps the root of library '{other}': one folder belongs to one library")]);
            }

            state.State = library;
            await state.WriteStateAsync();
            LogCreated(logger, Id, root!, actor);
            return new LibraryResult(LibraryOutcome.Created, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    public void Dispose() => _changes.Dispose();

    public Task<LibrarySnapshot?> GetAsync() => Task.FromResult(state.State.Exists ? Snapshot() : null);

    public Task<LibraryDefinition?> GetDefinitionAsync() =>
        Task.FromResult(state.State.Exists ? new LibraryDefinition(state.State.Name, state.State.Root, state.State.Settings) : null);

    public async Task<LibraryResult> UpdateAsync(LibraryUpdate update, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists)
            {
                return new LibraryResult(LibraryOutcome.NotFound, null, []);
            }

            var errors = new List<JobParameterError>();
            var name = update.Name ?? state.State.Name;
            var settings = state.State.Settings with
            {
                ThumbnailSize = update.ThumbnailSize ?? state.State.Settings.ThumbnailSize,
                ThumbnailFolder = update.ThumbnailFolder ?? state.State.Settings.ThumbnailFolder,
                Layout = update.Layout ?? state.State.Settings.Layout,
            };
            LibraryRules.CheckName(name, errors);
            LibraryRules.CheckSettings(settings, errors);
            if (errors.Count > 0)
            {
                return new LibraryResult(LibraryOutcome.Invalid, null, errors);
            }

            if (name == state.State.Name && settings == state.State.Settings)
            {
                return new LibraryResult(LibraryOutcome.Updated, Snapshot(), []);
            }

            state.State.Name = name;
            state.State.Settings = settings;
            state.State.UpdatedAt = time.GetUtcNow();
            state.State.Version++;
            await state.WriteStateAsync();
            await store.SaveAsync(Id, state.State);
            return new LibraryResult(LibraryOutcome.Updated, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<LibraryDeleteResult> DeleteAsync(bool force, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists)
            {
                return new LibraryDeleteResult(LibraryDeleteOutcome.NotFound, [], [], []);
            }

            if (!_arbiter.HoldersKnown)
            {
                await _arbiter.CheckAsync(CancellationToken.None); // reads the job index again
            }

            if (!_arbiter.HoldersKnown)
            {
                throw new DatabaseUnavailableException("the jobs holding the library's lock cannot be read: nothing was deleted");
            }

            var (holders, waiting) = _arbiter.Queue.Members(int.MaxValue);
            var stopped = new List<string>();
            if (holders.Count + waiting.Count > 0)
            {
                if (!force)
                {
                    return new LibraryDeleteResult(LibraryDeleteOutcome.InUse, holders, waiting, []);
                }

                _deleting = $"library '{Id}' is being deleted";
                stopped.AddRange(await StopJobsAsync(holders, waiting, actor));
                (holders, waiting) = _arbiter.Queue.Members(int.MaxValue);
                if (holders.Count + waiting.Count > 0)
                {
                    _deleting = null;
                    return new LibraryDeleteResult(LibraryDeleteOutcome.InUse, holders, waiting, stopped);
                }
            }

            _deleting = $"library '{Id}' was deleted";
            try
            {
                // The grain state first: should the row's delete fail, the library is gone and only its listing stays behind.
                await state.ClearStateAsync();
                state.State = new LibraryState();
                await store.DeleteAsync(Id);
            }
            finally
            {
                _deleting = null;
            }

            LogDeleted(logger, Id, actor, stopped.Count);
            return new LibraryDeleteResult(LibraryDeleteOutcome.Deleted, [], [], stopped);
        }
        finally
        {
            _changes.Release();
        }
    }

    Task<ResourceTicket> IResourceGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        if (!state.State.Exists || _deleting is not null)
        {
            // A job that names a library that is gone never gets it; should it hold or wait, it is let go.
            _arbiter.Release(jobId);
            return Task.FromResult(new ResourceTicket(false, 0, 1, 0, Refusal: _deleting ?? $"library '{Id}' does not exist"));
        }

        return Task.FromResult(_arbiter.Request(jobId, priority, queuedAt));
    }

    Task IResourceGrain.ReleaseAsync(string jobId)
    {
        _arbiter.Release(jobId);
        return Task.CompletedTask;
    }

    Task<ResourceAudit> IResourceGrain.AuditAsync(bool dryRun) => _arbiter.AuditAsync(dryRun, CancellationToken.None);

    public async Task<int?> SettleOperationsAsync(string jobId)
    {
        // Taking turns with definition changes: no delete or change of root while the disk is read.
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists || _deleting is not null || _arbiter.Queue.HolderCount > 0)
            {
                return null; // gone, or a job works on it now: the next validator run tries again
            }

            // No job is granted the lock while the library settles (those that ask wait in the queue).
            _arbiter.Suspended = true;
            var root = state.State.Root;
            var ops = (await operations.LoadAsync(jobId, CancellationToken.None)).Where(o => o.Status == FileOpStatus.InProgress).ToList();
            if (ops.Count > 0)
            {
                // Hashing reads files: off the grain's scheduler.
                await Task.Run(() => new FileOpSettler(root, SafeFiles.JobTag(jobId), operations)
                    .SettleAsync(jobId, ops, effect: null, CancellationToken.None));
                LogSettled(logger, Id, ops.Count, jobId);
            }

            return ops.Count;
        }
        finally
        {
            if (_arbiter.Suspended)
            {
                _arbiter.Suspended = false;
                _arbiter.Admit(except: null);
            }

            _changes.Release();
        }
    }

    Task<ResourceTicket> IResourceGrain.GetStatsAsync() =>
        Task.FromResult(new ResourceTicket(false, _arbiter.Queue.HolderCount, 1, _arbiter.Queue.WaitingCount, _arbiter.Queue.Members(0).Holders.FirstOrDefault()));

    /// <summary>Cancels the waiting jobs and the holder; kills a holder that does not stop in time. Returns the jobs it stopped.</summary>
    private async Task<List<string>> StopJobsAsync(List<string> holders, List<string> waiting, string actor)
    {
        var reason = $"library '{Id}' is being deleted";
        // All at once: each job grain answers on its own.
        var jobs = waiting.Concat(holders).ToList();
        var cancelled = await Task.WhenAll(jobs.Select(jobId => ControlAsync(jobId, JobAction.Cancel, actor, reason)));
        var stopped = jobs.Where((_, i) => cancelled[i]).ToList();
        if (!await LockFreeWithinAsync(CancelGrace))
        {
            await Task.WhenAll(_arbiter.Queue.Members(int.MaxValue).Holders.Select(jobId =>
                ControlAsync(jobId, JobAction.Kill, actor, reason + "; it did not stop in time")));

            await LockFreeWithinAsync(KillGrace);
        }

        return stopped;
    }

    private async Task<bool> ControlAsync(string jobId, JobAction action, string actor, string reason)
    {
        try
        {
            var result = await GrainFactory.GetGrain<IJobGrain>(jobId).ControlAsync(new JobControl(action, actor, reason, false));
            if (result.Job is null || JobTransitions.IsTerminal(result.Job.Status))
            {
                _arbiter.Release(jobId); // unknown, or ended already: it holds nothing
            }

            return result.Kind is JobActionKind.Transition or JobActionKind.AlreadyDone;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogControlFailed(logger, ex, Id, jobId);
            return false;
        }
    }

    private async Task<bool> LockFreeWithinAsync(TimeSpan limit)
    {
        var deadline = time.GetUtcNow() + limit;
        while (_arbiter.Queue.HolderCount + _arbiter.Queue.WaitingCount > 0)
        {
            if (time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time);
        }

        return true;
    }

    private string? CanonicalRoot(string? root, List<JobParameterError> errors)
    {
        if (string.IsNullOrWhiteSpace(root) || root.Length > LibraryLimits.MaxRootLength || !root.StartsWith('/') || root.Any(char.IsControl))
        {
            errors.Add(new("root", $"must be an absolute folder path of at most {LibraryLimits.MaxRootLength} characters"));
            return null;
        }

        try
        {
            var canonical = LibraryPaths.Canonical(root);
            var bases = options.Value.AllowedRoots.Select(LibraryPaths.Canonical).ToList();
            if (!bases.Any(b => LibraryPaths.IsWithin(canonical, b)))
            {
                errors.Add(new("root", bases.Count == 0
                    ? "no library may be created: no allowed base folder is configured (Libraries:AllowedRoots)"
                    : $"must lie under an allowed base folder ({string.Join(", ", bases)}); '{root}' resolves to '{canonical}'"));
                return null;
            }

            if (!Directory.Exists(canonical))
            {
                errors.Add(new("root", $"'{canonical}' is not an existing folder"));
                return null;
            }

            return canonical;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            errors.Add(new("root", $"cannot be resolved: {ex.Message}"));
            return null;
        }
    }

    private LibrarySnapshot Snapshot()
    {
        var (holders, waiting) = _arbiter.Queue.Members(WaitersShown);
        var s = state.State;
        return new LibrarySnapshot(Id, s.Name, s.Root, s.Settings, s.CreatedAt, s.UpdatedAt, s.Version, holders.FirstOrDefault(), waiting, _arbiter.Queue.WaitingCount);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Library {LibraryId}: settled {Count} file operation(s) that job {JobId} left in progress when it ended")]
    private static partial void LogSettled(ILogger logger, string libraryId, int count, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Library {LibraryId} created at {Root} by {Actor}")]
    private static partial void LogCreated(ILogger logger, string libraryId, string root, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Library {LibraryId} deleted by {Actor} ({Stopped} jobs stopped first)")]
    private static partial void LogDeleted(ILogger logger, string libraryId, string actor, int stopped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Library {LibraryId}: stopping job {JobId} for the delete failed")]
    private static partial void LogControlFailed(ILogger logger, Exception exception, string libraryId, string jobId);
}
