// Prints Stripe-Signature header values made by Stripe's own library
// (stripe.webhooks.generateTestHeaderString), so the API tests never sign
// a webhook body with code of ours.
//
//   node sign.mjs SECRET TIMESTAMP < body      one header for the body
//   node sign.mjs --lines                      a request a line on stdin,
//       {"payload": "...", "secret": "...", "timestamp": 123}, and its
//       header a line on stdout, until stdin ends (one process serves a
//       whole test session)
import { createInterface } from "node:readline";
import Stripe from "stripe";

const webhooks = Stripe.webhooks;

function header(payload, secret, timestamp) {
	return webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

if (process.argv[2] === "--lines") {
	const rl = createInterface({ input: process.stdin, terminal: false });
	rl.on("line", (line) => {
		const req = JSON.parse(line);
		process.stdout.write(header(req.payload, req.secret, req.timestamp) + "\n");
	});
} else {
	const [secret, timestamp] = process.argv.slice(2);
	const chunks = [];
	process.stdin.on("data", (c) => chunks.push(c));
	process.stdin.on("end", () => {
		const payload = Buffer.concat(chunks).toString("utf8");
		process.stdout.write(header(payload, secret, Number(timestamp)) + "\n");
	});
}
