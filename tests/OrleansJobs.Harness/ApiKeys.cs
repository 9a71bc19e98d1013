using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace OrleansJobs.Harness;

/// <summary>API keys of the tests: made like the product makes them, sent as a bearer token.</summary>
public static class ApiKeys
{
    public static string NewKey() => "ojk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>Makes <paramref name="http"/> send <paramref name="key"/> with every request; returns it.</summary>
    public static HttpClient Authorize(HttpClient http, string key)
    {
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>A new client with <paramref name="http"/>'s address and key, and its own <paramref name="timeout"/>; the caller disposes it.</summary>
    public static HttpClient CloneWithTimeout(this HttpClient http, TimeSpan timeout)
    {
        var clone = new HttpClient { BaseAddress = http.BaseAddress, Timeout = timeout };
        clone.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;
        return clone;
    }
}
