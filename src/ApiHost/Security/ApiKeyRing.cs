using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OrleansJobs.ApiHost.Security;

/// <summary>The outcome of looking a presented key up.</summary>
public enum KeyLookup
{
    Valid,
    Unknown,
    Unusable,

    /// <summary>The key is not a configured one and the stored keys could not be read yet.</summary>
    KeysUnavailable,
}

/// <summary>
/// Every key, in memory: a request never waits on the database. A background loop reads the
/// table's version every <see cref="AuthOptions.RefreshInterval"/> and all keys when it moved, so a
/// key revoked on any host is refused here within that interval. A key this host does not know
/// (made on another host a moment ago) triggers one extra read, at most every
/// <see cref="AuthOptions.UnknownKeyRefreshInterval"/>, so garbage keys cannot load the database.
/// </summary>
public sealed class ApiKeyRing : BackgroundService
{
    private readonly ApiKeyStore _store;
    private readonly IOptions<AuthOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ApiKeyRing> _logger;
    private readonly FrozenDictionary<string, ApiKey> _configured;
    private readonly SemaphoreSlim _reading = new(1, 1);
    private readonly ConcurrentDictionary<string, Known> _known = new(StringComparer.Ordinal);
    private volatile Snapshot? _stored;
    private (long Count, DateTimeOffset? Changed)? _version;

    /// <summary>Most presented keys remembered; past it all are forgotten (valid keys only, so only many real keys fill it).</summary>
    private const int MaxKnown = 10_000;
    private long _lastUnknownRead;
    private bool _failing;

    public ApiKeyRing(ApiKeyStore store, IOptions<AuthOptions> options, TimeProvider time, ILogger<ApiKeyRing> logger)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _configured = options.Value.Keys.Select(Configured).ToFrozenDictionary(k => Convert.ToHexString(k.Sha256), StringComparer.Ordinal);
    }

    /// <summary>The keys from configuration.</summary>
    public IEnumerable<ApiKey> ConfiguredKeys => _configured.Values;

    /// <summary>
    /// Looks a presented key up; the key found is returned when it is known (also when unusable), and
    /// the principal of a valid one. A valid key is remembered with the principal until the stored keys
    /// change, so a known key costs one dictionary lookup per request (no hash, no claims built): its
    /// principal is shared by its requests, which only read it.
    /// </summary>
    public async ValueTask<(KeyLookup Outcome, ApiKey? Key, string? Why, ClaimsPrincipal? Principal)> FindAsync(
        string presented, CancellationToken cancellationToken)
    {
        var stored = _stored;
        if (_known.TryGetValue(presented, out var known) && ReferenceEquals(known.Stored, stored))
        {
            return known.Key.Unusable(_time.GetUtcNow()) is { } expired ? (KeyLookup.Unusable, known.Key, expired, null) : (KeyLookup.Valid, known.Key, null, known.Principal);
        }

        var hash = Convert.ToHexString(ApiKeySecrets.Hash(presented));
        var found = Find(hash);
        if (found is null && TakeUnknownRead())
        {
            await RefreshAsync(force: true, cancellationToken);
            stored = _stored;
            found = Find(hash);
        }

        if (found is null)
        {
            return (stored is null ? KeyLookup.KeysUnavailable : KeyLookup.Unknown, null, null, null);
        }

        if (found.Unusable(_time.GetUtcNow()) is { } why)
        {
            return (KeyLookup.Unusable, found, why, null);
        }

        if (_known.Count >= MaxKnown)
        {
            _known.Clear();
        }

        var principal = Principal(found);
        _known[presented] = new Known(found, principal, stored);
        return (KeyLookup.Valid, found, null, principal);
    }

    /// <summary>Reads the stored keys now if they changed (or always, with <paramref name="force"/>); false when the database could not be read.</summary>
    public async Task<bool> RefreshAsync(bool force, CancellationToken cancellationToken)
    {
        await _reading.WaitAsync(cancellationToken);
        try
        {
            var version = await _store.VersionAsync(cancellationToken);
            if (force || _stored is null || version != _version)
            {
                var keys = await _store.ReadAllAsync(cancellationToken);
                _stored = new Snapshot(keys.ToFrozenDictionary(k => Convert.ToHexString(k.Sha256), StringComparer.Ordinal));
                _version = version;
            }

            if (_failing)
            {
                _logger.LogInformation("Stored API keys read again");
                _failing = false;
            }

            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            if (!_failing)
            {
                _logger.LogWarning("Stored API keys could not be read ({Message}); going on with the keys read before ({Count})",
                    ex.Message, _stored?.ByHash.Count ?? 0);
                _failing = true;
            }

            return false;
        }
        finally
        {
            _reading.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Value.RefreshInterval, _time);
        do
        {
            await RefreshAsync(force: false, stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private ApiKey? Find(string hash) =>
        _configured.TryGetValue(hash, out var configured) ? configured
        : _stored?.ByHash.TryGetValue(hash, out var stored) == true ? stored
        : null;

    private bool TakeUnknownRead()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastUnknownRead);
        return (last == 0 || _time.GetElapsedTime(last, now) >= _options.Value.UnknownKeyRefreshInterval)
            && Interlocked.CompareExchange(ref _lastUnknownRead, now, last) == last;
    }

    private ApiKey Configured(ConfiguredApiKey key)
    {
        var hash = key.Key is { } plain ? ApiKeySecrets.Hash(plain) : ApiKeySecrets.ParseHash(key.Sha256)!;
        return new ApiKey($"config:{key.Name}", key.Name!, [.. key.Roles], [.. key.JobTypes], [.. key.Devices],
            _time.GetUtcNow(), "configuration", null, null, null, ApiKey.FromConfiguration, hash);
    }

    /// <summary>The principal a key authenticates as: its id, name, roles and scope as claims.</summary>
    private static ClaimsPrincipal Principal(ApiKey key)
    {
        var claims = new List<Claim> { new(ApiKeyAuthenticationHandler.KeyIdClaim, key.Id), new(ApiKeyAuthenticationHandler.KeyNameClaim, key.Name) };
        claims.AddRange(key.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        claims.AddRange(key.JobTypes.Select(t => new Claim(ApiKeyAuthenticationHandler.JobTypeClaim, t)));
        claims.AddRange(key.Devices.Select(d => new Claim(ApiKeyAuthenticationHandler.DeviceClaim, d)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyAuthenticationHandler.SchemeName, ApiKeyAuthenticationHandler.KeyNameClaim, ClaimTypes.Role));
    }

    private sealed record Snapshot(FrozenDictionary<string, ApiKey> ByHash);

    /// <summary>A valid key as last looked up, with the stored keys it was found among (a change of them forgets it).</summary>
    private sealed record Known(ApiKey Key, ClaimsPrincipal Principal, Snapshot? Stored);
}
