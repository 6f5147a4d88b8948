// One Responses API call with the image_generation tool, as a JavaScript client would send it with the
// official `openai` package. Reads IMAGEGATE_BASE_URL, IMAGEGATE_KEY and IMAGEGATE_MODEL; prints what it
// got as one JSON line (the image's base64 replaced by its size in bytes) for the Python test that runs it.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.IMAGEGATE_BASE_URL,
  apiKey: process.env.IMAGEGATE_KEY,
  maxRetries: 0,
  timeout: 60_000,
});

const response = await client.responses.create({
  model: "gpt-5",
  input: "a paper lantern festival at night",
  tools: [{ type: "image_generation", model: process.env.IMAGEGATE_MODEL, quality: "low" }],
});

const call = response.output[0];
const kept = await client.responses.retrieve(response.id);
console.log(
  JSON.stringify({
    id: response.id,
    object: response.object,
    status: response.status,
    item: { type: call.type, id: call.id, status: call.status, size: call.size, quality: call.quality },
    bytes: Buffer.from(call.result ?? "", "base64").length,
    kept_same_image: kept.output[0].result === call.result,
    billing: response.billing,
  }),
);
