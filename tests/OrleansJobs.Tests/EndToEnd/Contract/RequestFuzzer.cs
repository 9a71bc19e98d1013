using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>One generated request, and a description to name it in a failure.</summary>
public sealed record FuzzRequest(string Method, string PathAndQuery, byte[]? Body, string? ContentType, IReadOnlyList<(string Name, string Value)> Headers)
{
    public override string ToString()
    {
        var body = Body is null ? "(no body)" : Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 300)) + (Body.Length > 300 ? $"… ({Body.Length} bytes)" : "");
        var path = PathAndQuery.Length > 300 ? PathAndQuery[..300] + "…" : PathAndQuery;
        return $"{Method} {path} [{ContentType ?? "no content type"}; {string.Join("; ", Headers.Select(h => $"{h.Name}: {h.Value[..Math.Min(h.Value.Length, 40)]}"))}] {body}";
    }
}

/// <summary>
/// Generates malformed requests for one operation of the OpenAPI document, from the operation's own
/// description: its path and query parameters and its body schema, each then broken in one of many
/// ways (wrong types, huge numbers, deep nesting, unknown and missing members, invalid UTF-8,
/// truncation, NUL and lone surrogates, odd ids and query values, wrong content types, huge
/// headers). Deterministic for a given <see cref="Random"/>; never names a job outside <paramref name="ids"/>.
/// </summary>
public sealed class RequestFuzzer(JsonElement document, string method, string path, JsonElement operation, IReadOnlyList<string> ids)
{
    /// <summary>Stands in for a number no JSON writer emits; replaced in the serialized text.</summary>
    private const string HugeNumber = "@@HUGE@@";

    private static readonly string[] OddIds =
    [
        "", "%20", "%20%20", "%09", "%00", "a%00b", "%01", "..", "%2e%2e", ".", "%2F", "a%2Fb", "%C3%A9t%C3%A9", "%F0%9F%98%80",
        "%C3%28", "%FF%FE", "%ED%A0%80", "%ZZ", "%", "%E2%80%8B", "a%20", "%7B%7D", "null", "-1", "0", "%22%27%3C%3E",
    ];

    private static readonly string[] OddQueryValues =
    [
        "", "%00", "a%00b", "%FF", "%C3%28", "-1", "0", "1", "500", "501", "99999999999999999999", "1e400", "true", "false", "maybe",
        "Running", "running", "Running,,Queued", ",", "3", "json", "jsonl", "xml", "2026-01-01T00:00:00Z", "9999-99-99", "%F0%9F%98%80",
        "%ED%A0%80", "MTIzfGEAYg", "MTIzfGFiYw", "%25", "a+b", "%2C%2C",
    ];

    private static readonly string[] WholeBodies = ["null", "[]", "1", "\"s\"", "true", "{}", "{,}", "{\"a\":1,}", "/* */{}", "\uFEFF{}"];

    private static readonly string?[] ContentTypes =
    [
        "application/json", "application/json", "application/json", "application/json", "application/json; charset=utf-8",
        "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=utf-16", "application/problem+json", "application/*", "garbage", null,
    ];

    public FuzzRequest Next(Random random)
    {
        var target = path.Replace("{id}", random.Next(4) == 0 ? OddIds[random.Next(OddIds.Length)] : ids[random.Next(ids.Count)], StringComparison.Ordinal);
        var query = Query(random);
        var headers = new List<(string, string)>();
        if (random.Next(5) == 0)
        {
            headers.Add(("Idempotency-Key", random.Next(4) switch
            {
                0 => new string('k', random.Next(201, 12_000)),
                1 => "",
                2 => "%00%FF",
                _ => $"fuzz-{random.Next(100)}",
            }));
        }

        byte[]? body = null;
        string? contentType = null;
        var hasBody = operation.TryGetProperty("requestBody", out var requestBody);
        if (hasBody || random.Next(10) == 0)
        {
            // A body of another type (an archive) gets its own type now and then, with the same broken content.
            var content = hasBody ? requestBody.GetProperty("content") : default;
            var json = hasBody && content.TryGetProperty("application/json", out var jsonBody) ? jsonBody : default;
            contentType = hasBody && json.ValueKind == JsonValueKind.Undefined && random.Next(2) == 0
                ? content.EnumerateObject().First().Name
                : ContentTypes[random.Next(ContentTypes.Length)];
            if (random.Next(12) != 0)
            {
                body = Body(random, json.ValueKind == JsonValueKind.Undefined ? default : json.GetProperty("schema"));
            }
        }

        return new FuzzRequest(method, target + query, body, contentType, headers);
    }

    private string Query(Random random)
    {
        var names = operation.TryGetProperty("parameters", out var parameters)
            ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToList()
            : [];
        if (random.Next(3) == 0)
        {
            names.Add(random.Next(2) == 0 ? "unknown" : "%00");
        }

        var query = new StringBuilder();
        foreach (var name in names.Where(_ => random.Next(3) == 0))
        {
            for (var repeat = random.Next(6) == 0 ? 2 : 1; repeat > 0; repeat--)
            {
                var value = random.Next(20) == 0 ? new string('q', random.Next(100, 6000)) : OddQueryValues[random.Next(OddQueryValues.Length)];
                query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(value);
            }
        }

        return query.ToString();
    }

    private byte[] Body(Random random, JsonElement schema)
    {
        switch (random.Next(14))
        {
            case 0:
                return [];
            case 1:
                return Encoding.UTF8.GetBytes(WholeBodies[random.Next(WholeBodies.Length)]);
            case 2:
                var depth = random.Next(60, 5000);
                return Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth));
        }

        var node = schema.ValueKind == JsonValueKind.Undefined ? new JsonObject { ["x"] = 1 } : Sample(schema, random, 0) ?? new JsonObject();
        for (var i = random.Next(1, 4); i > 0; i--)
        {
            Mutate(node, random, 0);
        }

        var text = node.ToJsonString().Replace($"\"{HugeNumber}\"", random.Next(2) == 0 ? "1e400" : "123456789012345678901234567890", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        return random.Next(6) switch
        {
            0 => bytes[..random.Next(bytes.Length + 1)],                                        // truncated
            1 => [.. bytes[..(bytes.Length / 2)], (byte)(random.Next(2) == 0 ? 0xFF : 0x00), .. bytes[(bytes.Length / 2)..]], // invalid UTF-8 or a raw NUL
            2 => [0xC3, 0x28, .. bytes],
            _ => bytes,
        };
    }

    /// <summary>A well-shaped value of <paramref name="schema"/> (required members and some optional ones).</summary>
    private JsonNode? Sample(JsonElement schema, Random random, int depth)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        if (schema.TryGetProperty("oneOf", out var oneOf))
        {
            return Sample(oneOf.EnumerateArray().Last(), random, depth);
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            return JsonValue.Create(values[random.Next(values.GetArrayLength())].GetString());
        }

        var type = !schema.TryGetProperty("type", out var t) ? "object"
            : t.ValueKind == JsonValueKind.Array ? t.EnumerateArray().Select(x => x.GetString()!).First(x => x != "null") : t.GetString()!;
        switch (type)
        {
            case "object" when depth < 4:
                var result = new JsonObject();
                var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!).ToHashSet() : [];
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject().Where(p => required.Contains(p.Name) || random.Next(2) == 0))
                    {
                        result[property.Name] = Sample(property.Value, random, depth + 1);
                    }
                }

                return result;
            case "object":
                return new JsonObject();
            case "array":
                return new JsonArray(schema.TryGetProperty("items", out var items) ? Sample(items, random, depth + 1) : JsonValue.Create("x"));
            case "integer":
                return JsonValue.Create(schema.TryGetProperty("minimum", out var min) ? min.GetInt64() : 1);
            case "number":
                return JsonValue.Create(0.5);
            case "boolean":
                return JsonValue.Create(true);
            default:
                return JsonValue.Create(schema.TryGetProperty("format", out var format) && format.GetString() == "date-time" ? "2026-01-01T00:00:00Z" : "fuzz");
        }
    }

    private static void Mutate(JsonNode node, Random random, int depth)
    {
        if (node is not JsonObject obj)
        {
            return;
        }

        var names = obj.Select(p => p.Key).ToList();
        if (names.Count > 0 && random.Next(3) == 0 && obj[names[random.Next(names.Count)]] is JsonObject inner && depth < 3)
        {
            Mutate(inner, random, depth + 1);
            return;
        }

        switch (random.Next(4))
        {
            case 0 when names.Count > 0:
                obj.Remove(names[random.Next(names.Count)]);
                break;
            case 1:
                obj[random.Next(3) == 0 ? new string('n', random.Next(1, 3000)) : "unknownMember"] = Evil(random);
                break;
            default:
                obj[names.Count > 0 ? names[random.Next(names.Count)] : "x"] = Evil(random);
                break;
        }
    }

    private static JsonNode? Evil(Random random) => random.Next(20) switch
    {
        0 => null,
        1 => JsonValue.Create(true),
        2 => JsonValue.Create(-1),
        3 => JsonValue.Create(0),
        4 => JsonValue.Create(long.MaxValue),
        5 => JsonValue.Create(-0.000001),
        6 => JsonValue.Create(HugeNumber),
        7 => JsonValue.Create(""),
        8 => JsonValue.Create(new string('x', random.Next(1, 20_000))),
        9 => JsonValue.Create("a\u0000b"),
        10 => JsonValue.Create("\ud800"),
        11 => JsonValue.Create("\udfff\ud800"),
        12 => new JsonArray(),
        13 => new JsonObject(),
        14 => Nest(random.Next(10, 200)),
        15 => JsonValue.Create("2026-13-45T99:99:99Z"),
        16 => new JsonArray(JsonValue.Create(1), null, JsonValue.Create("x")),
        17 => JsonValue.Create(1.5),
        18 => JsonValue.Create("Queued"),
        _ => JsonValue.Create("😀\u200b"),
    };

    private static JsonNode Nest(int depth)
    {
        JsonNode node = new JsonArray();
        for (var i = 0; i < depth; i++)
        {
            node = new JsonObject { ["a"] = node };
        }

        return node;
    }
}
