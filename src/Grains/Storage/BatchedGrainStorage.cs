using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.Membership;
using Orleans.Storage;

namespace OrleansJobs.Storage;

/// <summary>
/// A grain state that names the silo answerable for it while it must not be forgotten (a job that
/// runs or waits). <see cref="BatchedGrainStorage"/> stores it beside the state, in the same
/// statement, for the recovery sweep.
/// </summary>
public interface IWatchedState
{
    /// <summary>The silo (parsable address) answerable for this grain, or null when nothing must happen to it.</summary>
    string? WatchedBy { get; }

    /// <summary>What the state says in a few words (<c>grain_state.summary</c>), for checks that must not read every state's JSON; null: nothing.</summary>
    string? Summary => null;
}

/// <summary>Options of <see cref="BatchedGrainStorage"/>.</summary>
public sealed class BatchedGrainStorageOptions
{
    /// <summary>Most reads or writes sent in one statement.</summary>
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>Statements in flight at once (each on its own connection); the rest wait and batch up.</summary>
    public int Concurrency { get; set; } = 2;
}

/// <summary>
/// Grain storage with group commit, on the <c>grain_state</c> table. Each read and write is
/// durable before its call returns, as with one statement per call, but the calls that arrive
/// while a statement is in flight go to the server together: one round trip, one statement and
/// one commit for all of them. Under load the database does a fraction of the work per job; an
/// idle silo's single write goes out at once, with no added wait.
/// Each row keeps its own optimistic version: a write whose expected version is stale (another
/// activation wrote meanwhile) fails with <see cref="InconsistentStateException"/> and changes nothing.
/// Writes are fenced by the silo's membership row (<see cref="SiloMembershipRow.NotDeadSql"/>): once the
/// cluster has declared this silo dead, every write fails with <see cref="SiloDeclaredDeadException"/>
/// and changes nothing, so a silo that wakes from a freeze cannot overwrite what a survivor resumed.
/// </summary>
public sealed partial class BatchedGrainStorage : IGrainStorage, IAsyncDisposable
{
    private const string ReadSql = """
        SELECT k.i, s.version, s.payload
        FROM unnest(@grain_id, @state_name) WITH ORDINALITY AS k(grain_id, state_name, i)
        JOIN grain_state s ON s.grain_id = k.grain_id AND s.state_name = k.state_name
        """;

    // One statement for updates (version must match) and inserts (no row may exist yet); the rows
    // returned are the writes that took effect, and their new versions. Row 0 says the silo is dead.
    private const string WriteSql = $"""
        WITH fence AS (
            SELECT {SiloMembershipRow.NotDeadSql} AS alive
        ), input AS (
            SELECT * FROM unnest(@grain_id, @state_name, @expected, @payload, @watched_by, @summary)
                WITH ORDINALITY AS t(grain_id, state_name, expected, payload, watched_by, summary, i)
        ), updated AS (
            UPDATE grain_state s
            SET payload = input.payload, watched_by = input.watched_by, summary = input.summary, version = s.version + 1, modified_on = now()
            FROM input
            WHERE input.expected IS NOT NULL AND s.grain_id = input.grain_id AND s.state_name = input.state_name
              AND s.version = input.expected AND (SELECT alive FROM fence)
            RETURNING input.i, s.version
        ), inserted AS (
            INSERT INTO grain_state (grain_id, state_name, version, payload, watched_by, summary)
            SELECT grain_id, state_name, 1, payload, watched_by, summary FROM input WHERE expected IS NULL AND (SELECT alive FROM fence)
            ON CONFLICT DO NOTHING
            RETURNING grain_id, state_name, version
        )
        SELECT i, version FROM updated
        UNION ALL
        SELECT input.i, inserted.version FROM inserted JOIN input USING (grain_id, state_name)
        UNION ALL
        SELECT 0, 0 FROM fence WHERE NOT alive
        """;

    private const string DeleteSql = """
        DELETE FROM grain_state WHERE grain_id = @grain_id AND state_name = @state_name AND version = @expected
        """;

    private readonly string _name;
    private readonly NpgsqlDataSource _dataSource;
    private readonly IGrainStorageSerializer _serializer;
    private readonly BatchedGrainStorageOptions _options;
    private readonly ILogger _logger;
    private readonly SiloMembershipRow? _fence;
    private readonly Channel<Operation> _reads = Channel.CreateUnbounded<Operation>(new() { SingleReader = false });
    private readonly Channel<Operation> _writes = Channel.CreateUnbounded<Operation>(new() { SingleReader = false });
    private readonly Task[] _workers;

    public BatchedGrainStorage(
        string name, NpgsqlDataSource dataSource, IGrainStorageSerializer serializer, BatchedGrainStorageOptions options,
        ILogger<BatchedGrainStorage> logger, SiloMembershipRow? fence = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Concurrency, 1);
        _name = name;
        _dataSource = dataSource;
        _serializer = serializer;
        _options = options;
        _logger = logger;
        _fence = fence;
        _workers =
        [
            .. Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(() => RunAsync(_reads.Reader, ReadBatchAsync))),
            .. Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(() => RunAsync(_writes.Reader, WriteBatchAsync))),
        ];
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var operation = new Operation(grainId.ToString(), stateName, null, null, null);
        ObjectDisposedException.ThrowIf(!_reads.Writer.TryWrite(operation), this);

        var (version, payload) = await operation.Done.Task;
        if (version is null)
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        grainState.State = _serializer.Deserialize<T>(new BinaryData(payload!));
        grainState.ETag = Etag(version.Value);
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var payload = _serializer.Serialize(grainState.State).ToArray();
        var watched = grainState.State as IWatchedState;
        var operation = new Operation(grainId.ToString(), stateName, ParseEtag(grainState.ETag), payload, watched?.WatchedBy) { Summary = watched?.Summary };
        ObjectDisposedException.ThrowIf(!_writes.Writer.TryWrite(operation), this);

        var (version, _) = await operation.Done.Task;
        if (version is null)
        {
            throw new InconsistentStateException(
                $"{_name}: the state of {grainId} was written by someone else (expected version {grainState.ETag ?? "none"})",
                "unknown", grainState.ETag ?? "none");
        }

        grainState.ETag = Etag(version.Value);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (ParseEtag(grainState.ETag) is { } expected)
        {
            await using var command = _dataSource.CreateCommand(DeleteSql);
            command.Parameters.AddWithValue("grain_id", grainId.ToString());
            command.Parameters.AddWithValue("state_name", stateName);
            command.Parameters.AddWithValue("expected", expected);
            if (await command.ExecuteNonQueryAsync() != 1)
            {
                throw new InconsistentStateException(
                    $"{_name}: the state of {grainId} was written by someone else (expected version {expected})", "unknown", grainState.ETag!);
            }
        }

        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    public async ValueTask DisposeAsync()
    {
        _reads.Writer.TryComplete();
        _writes.Writer.TryComplete();
        await Task.WhenAll(_workers);
    }

    private static string Etag(int version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int? ParseEtag(string? etag) =>
        etag is null ? null : int.Parse(etag, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Takes whatever is waiting (up to the batch size) and sends it as one statement, until the channel completes.</summary>
    private async Task RunAsync(ChannelReader<Operation> reader, Func<List<Operation>, Task> execute)
    {
        var batch = new List<Operation>(_options.MaxBatchSize);
        var deferred = new List<Operation>();
        while (deferred.Count > 0 || await reader.WaitToReadAsync())
        {
            batch.Clear();
            var keys = new HashSet<(string, string)>();
            // A batch holds each grain once: a second operation on the same grain waits for the next batch.
            foreach (var held in deferred)
            {
                if (batch.Count < _options.MaxBatchSize && keys.Add((held.GrainId, held.StateName)))
                {
                    batch.Add(held);
                }
            }

            deferred.RemoveAll(batch.Contains);
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var next))
            {
                if (keys.Add((next.GrainId, next.StateName)))
                {
                    batch.Add(next);
                }
                else
                {
                    deferred.Add(next);
                }
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                await execute(batch);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogBatchFailed(_logger, ex, _name, batch.Count);
                // The driver's exceptions cannot cross the wire: callers get one that can, carrying the message.
                // Only a failure to reach the server reads as an outage; a statement the server refused does not.
                var failure = ex switch
                {
                    SiloDeclaredDeadException => ex,
                    PostgresException { IsTransient: false } refused => new InvalidOperationException(
                        $"{_name}: the database refused the statement: {refused.SqlState}: {refused.MessageText}"),
                    NpgsqlException or TimeoutException or System.Net.Sockets.SocketException =>
                        new DatabaseUnavailableException($"the job store could not reach the database: {ex.GetType().Name}: {ex.Message}"),
                    _ => ex,
                };
                foreach (var operation in batch)
                {
                    operation.Done.TrySetException(failure);
                }
            }
        }

        foreach (var operation in deferred)
        {
            operation.Done.TrySetException(new ObjectDisposedException(nameof(BatchedGrainStorage)));
        }
    }

    private async Task ReadBatchAsync(List<Operation> batch)
    {
        await using var command = _dataSource.CreateCommand(ReadSql);
        command.Parameters.Add(new NpgsqlParameter<string[]>("grain_id", [.. batch.Select(o => o.GrainId)]));
        command.Parameters.Add(new NpgsqlParameter<string[]>("state_name", [.. batch.Select(o => o.StateName)]));
        var found = new (int? Version, byte[]? Payload)[batch.Count];
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                found[reader.GetInt64(0) - 1] = (reader.GetInt32(1), reader.GetFieldValue<byte[]>(2));
            }
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(found[i]);
        }
    }

    private async Task WriteBatchAsync(List<Operation> batch)
    {
        await using var command = _dataSource.CreateCommand(WriteSql);
        command.Parameters.Add(new NpgsqlParameter<string[]>("grain_id", [.. batch.Select(o => o.GrainId)]));
        command.Parameters.Add(new NpgsqlParameter<string[]>("state_name", [.. batch.Select(o => o.StateName)]));
        command.Parameters.Add(new NpgsqlParameter("expected", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Integer)
        {
            Value = batch.Select(o => o.Expected).ToArray(),
        });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("payload", [.. batch.Select(o => o.Payload!)]));
        command.Parameters.Add(new NpgsqlParameter("watched_by", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
        {
            Value = batch.Select(o => o.WatchedBy).ToArray(),
        });
        command.Parameters.Add(new NpgsqlParameter("summary", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
        {
            Value = batch.Select(o => o.Summary).ToArray(),
        });
        SiloMembershipRow.AddParameters(_fence, command);
        var written = new int?[batch.Count];
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var i = reader.GetInt64(0);
                if (i == 0)
                {
                    throw new SiloDeclaredDeadException(
                        $"{_name}: this silo was declared dead by the cluster; its writes are refused (the jobs continue on live silos)");
                }

                written[i - 1] = reader.GetInt32(1);
            }
        }

        // Rows missing from the result were refused by their version check.
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult((written[i], null));
        }
    }

    /// <summary>Outside a silo (storage tests) there is no membership row: the fence reads the writer as alive.</summary>
    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain storage {Name}: a batch of {Count} operations failed")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string name, int count);

    private sealed class Operation(string grainId, string stateName, int? expected, byte[]? payload, string? watchedBy)
    {
        public string? WatchedBy { get; } = watchedBy;

        public string? Summary { get; init; }

        public string GrainId { get; } = grainId;

        public string StateName { get; } = stateName;

        public int? Expected { get; } = expected;

        public byte[]? Payload { get; } = payload;

        public TaskCompletionSource<(int? Version, byte[]? Payload)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
