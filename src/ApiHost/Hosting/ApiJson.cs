using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// JSON conventions of the API, for requests and responses alike: camelCase, enums by name. A
/// request is read strictly, so that its records are the whole truth about what is accepted: an
/// unknown member is refused (a typo fails loudly), numbers must be JSON numbers, null is taken
/// only where a field is nullable, and no string may carry text PostgreSQL cannot store.
/// </summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.RespectNullableAnnotations = true;
        options.Converters.Add(new JsonStringEnumConverter(allowIntegerValues: false));
        options.Converters.Add(new StorableStringConverter());
        return options;
    }

    /// <summary>Refuses a string with a NUL or an unpaired surrogate where it is read, so the error names its field.</summary>
    private sealed class StorableStringConverter : JsonConverter<string>
    {
        public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Storable(reader.GetString()!);

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        // Dictionary keys (a checkpoint's counter names) are read through the same converter.
        public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Storable(reader.GetString()!);

        public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
            writer.WritePropertyName(value);

        private static string Storable(string text) => StorableText.IsStorable(text)
            ? text
            : throw new JsonException("contains a NUL character or an unpaired surrogate, which cannot be stored");
    }
}
