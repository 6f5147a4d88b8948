// One chat completion for an image, as a JavaScript client would send it with the official `openai`
// package. Reads IMAGEGATE_BASE_URL, IMAGEGATE_KEY and IMAGEGATE_MODEL; prints what it got as one
// JSON line (the answer, its data URLs cut short) for the Python test that runs it.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.IMAGEGATE_BASE_URL,
  apiKey: process.env.IMAGEGATE_KEY,
  maxRetries: 0,
  timeout: 60_000,
});

const completion = await client.chat.completions.create({
  model: process.env.IMAGEGATE_MODEL,
  messages: [{ role: "user", content: "a paper boat on a pond, watercolor" }],
  modalities: ["image", "text"],
});

const message = completion.choices[0].message;
const images = (message.images ?? []).map((image) => ({
  type: image.type,
  url: image.image_url.url.slice(0, 30),
  bytes: Buffer.from(image.image_url.url.split(",")[1] ?? "", "base64").length,
}));
console.log(
  JSON.stringify({
    object: completion.object,
    finish_reason: completion.choices[0].finish_reason,
    content: message.content,
    images,
    billing: completion.billing,
  }),
);
