using System.Security.Cryptography;
using System.Text;

namespace OrleansJobs.ApiHost.Security;

/// <summary>
/// A key as the API hosts know it: never the key itself, only its SHA-256. Keys are 256 random
/// bits, so a fast hash is enough (nothing to brute-force), and the hash is what requests are
/// looked up by.
/// </summary>
/// <param name="Id">Public id: <c>key-…</c> for keys made over the API, <c>config:&lt;name&gt;</c> for keys from configuration.</param>
/// <param name="Name">What the key is for.</param>
/// <param name="Roles">Its roles (<see cref="ApiRoles"/>).</param>
/// <param name="JobTypes">The job types a worker key may work on.</param>
/// <param name="Devices">The devices a worker key may act for.</param>
/// <param name="CreatedAt">When it was made.</param>
/// <param name="CreatedBy">Who made it (an actor).</param>
/// <param name="ExpiresAt">When it stops working, if ever.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
/// <param name="RevokedBy">Who revoked it.</param>
/// <param name="Source"><c>api</c> or <c>configuration</c>.</param>
/// <param name="Sha256">The SHA-256 of the key's UTF-8 text.</param>
public sealed record ApiKey(
    string Id,
    string Name,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> JobTypes,
    IReadOnlyList<string> Devices,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    string? RevokedBy,
    string Source,
    byte[] Sha256)
{
    public const string FromApi = "api";
    public const string FromConfiguration = "configuration";

    /// <summary>Why the key cannot be used at <paramref name="now"/>; null when it can.</summary>
    public string? Unusable(DateTimeOffset now) =>
        RevokedAt is not null ? "The API key was revoked"
        : ExpiresAt is { } expires && expires <= now ? "The API key has expired"
        : null;
}

/// <summary>Making and hashing keys.</summary>
public static class ApiKeySecrets
{
    /// <summary>What every key starts with, so that scanners find leaked ones.</summary>
    public const string Prefix = "ojk_";

    /// <summary>A new key: the prefix and 32 random bytes in base64url (47 characters).</summary>
    public static string NewKey() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>A new public id for a key.</summary>
    public static string NewId() => "key-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Longest configured key name, and so the longest id (<c>config:</c> and the name).</summary>
    public const int MaxNameLength = 200;

    /// <summary>Whether <paramref name="id"/> can be a key's id: <c>key-</c> and 16 hex digits, or <c>config:</c> and a configured key's name.</summary>
    public static bool IsWellFormedId(string? id) =>
        id is not null
        && ((id.Length == 20 && id.StartsWith("key-", StringComparison.Ordinal) && id[4..].All(char.IsAsciiHexDigitLower))
            || (id.StartsWith("config:", StringComparison.Ordinal) && id.Length > 7 && id.Length <= 7 + MaxNameLength
                && !string.IsNullOrWhiteSpace(id[7..]) && !id.Any(char.IsControl)));

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>A hash from configuration (64 hexadecimal digits); null when it is not one.</summary>
    public static byte[]? ParseHash(string? hex)
    {
        if (hex is not { Length: 64 })
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
