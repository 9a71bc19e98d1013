using System.Security.Cryptography;
using System.Text;

namespace OrleansJobs.Jobs;

/// <summary>Job ids: how a submission's id is chosen, and which ids a request may name.</summary>
public static class JobIds
{
    /// <summary>Longest id a request may name; ids this API gives out are 36-character UUIDs.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// The job id of a submission: a name-based UUID (SHA-256 of the key, RFC 9562 version 8) when
    /// an idempotency key is given, so duplicates meet in the same grain without a lookup;
    /// otherwise a fresh time-ordered UUID (version 7).
    /// </summary>
    public static string For(string? idempotencyKey) =>
        idempotencyKey is null ? Guid.CreateVersion7().ToString() : FromIdempotencyKey(idempotencyKey);

    /// <summary>The id every submission with this idempotency key gets (the prefix keeps it apart from other name-based UUIDs).</summary>
    public static string FromIdempotencyKey(string idempotencyKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("orleansjobs:" + idempotencyKey), hash);
        var bytes = hash[..16].ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC variant
        return new Guid(bytes, bigEndian: true).ToString();
    }

    /// <summary>
    /// Whether a request may name <paramref name="id"/>: 1 to <see cref="MaxLength"/> characters,
    /// not blank, no control characters, storable. Anything else cannot be a job and must not reach
    /// a grain key or a query.
    /// </summary>
    public static bool IsWellFormed(string? id) =>
        id is { Length: > 0 and <= MaxLength }
        && !string.IsNullOrWhiteSpace(id)
        && !id.Any(char.IsControl)
        && StorableText.IsStorable(id);
}
