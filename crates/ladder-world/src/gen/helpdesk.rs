//! The `helpdesk` suite: customer support for Brightwave, a fictional shop selling Lumo
//! smart lamps. Policies and product pages are fixed tables; `scale` adds filler product
//! pages for larger knowledge bases.

use super::{document, fact, slug, GenOptions, Generated, TaskOut};
use crate::suite::Manifest;
use ladder_core::rng::Rng;

/// (title, body) of each policy or FAQ page.
const POLICIES: [(&str, &str); 22] = [
    ("Returns policy", "You can return any item within 30 days of delivery for a full refund, as long as it is unused and in its original box. Opened items can be returned within 14 days; a restocking fee of 10% is then deducted. Start a return from your account page and print the free return label."),
    ("Refunds", "Refunds are paid to the original payment method within 5 business days after the returned item reaches our warehouse. You get an e-mail when the refund is sent. Delivery costs are refunded only when the whole order is returned."),
    ("Standard delivery", "Standard delivery within Norland takes 3 to 5 working days and costs €4.95. Delivery is free on orders over €60. Parcels are sent with NorPost and can be tracked from your account page."),
    ("Express delivery", "Express delivery costs €12.50 and arrives the next working day when you order before 2 pm. Orders placed after 2 pm, or on a weekend, arrive one working day later."),
    ("International delivery", "We ship to Valmora, Esteria and Kaskia. International delivery costs €19 and takes 6 to 10 working days. Import duties, if any, are paid by the customer on delivery. We do not ship anywhere else."),
    ("Order numbers and tracking", "Every order has an order number of the form BW- followed by six digits; you find it in your confirmation e-mail. The first digit tells where the order stands. Orders whose numbers start with BW-4 ship from the Dunmore warehouse and arrive within 2 working days of dispatch. Orders starting with BW-5 ship from the Kelport warehouse and arrive within 4 working days. Orders starting with BW-7 are pre-orders: they ship on 14 March."),
    ("Cancelling an order", "You can cancel an order yourself from your account page within 2 hours of placing it. After that the order is already being packed: refuse the delivery or return the item instead, and you get a full refund."),
    ("Changing the delivery address", "The delivery address can be changed until the order is packed, which is usually 6 hours after you place it. Use the chat and give your order number. Once a parcel is dispatched, the address cannot be changed."),
    ("Payment methods", "We accept Visa and Mastercard, PayNorth and bank transfer. We do not offer cash on delivery. Bank transfers must arrive within 7 days or the order is cancelled."),
    ("Gift cards", "Brightwave gift cards are valid for 3 years from the date of purchase and can be used for any product in the shop. They cannot be exchanged for cash, and a lost gift card cannot be replaced."),
    ("Price match", "If an authorised Lumo retailer sells the same item for less within 14 days of your purchase, we refund the difference. Send a link to the lower price through the chat."),
    ("Student discount", "Students get a 15% discount on all lamps after verifying a valid student card with StudentPass. The discount cannot be combined with other offers."),
    ("Loyalty points", "Members earn 1 point for every euro spent. Every 100 points are worth €5 off a later order. Points expire after 2 years without a purchase."),
    ("Damaged on arrival", "If an item arrives damaged, report it within 48 hours with photos of the item and the box. We send a free replacement at once; you do not have to return the damaged item first."),
    ("Lost parcels", "If the tracking of a parcel has not changed for 7 days, we treat it as lost: we send the order again at no cost, or refund it if you prefer."),
    ("Invoices", "Every order's invoice can be downloaded from your account page. Companies can ask for a VAT invoice with their VAT number through the chat, within 30 days of the order."),
    ("Privacy and your data", "We keep order data for 6 years because tax law requires it. You can ask for all other data to be deleted by writing to privacy@brightwave.example; we answer within 30 days."),
    ("Kelmarsh flagship store", "The Brightwave flagship store is at 12 Lantern Street in Kelmarsh. It is open Monday to Saturday from 9:00 to 18:00 and closed on Sundays. You can pick up online orders there for free."),
    ("Contacting us", "Our chat is open every day from 8:00 to 20:00. You can also call us on 0800 414 414 on working days. E-mail replies take up to 2 working days."),
    ("Bulk orders", "For orders of 10 or more units of one product we give an 8% discount. Contact our sales team at sales@brightwave.example with the quantity and the model."),
    ("Gift wrapping", "Gift wrapping costs €3.50 per item. Choose it at checkout and add a message of up to 200 characters; the price is not shown on the packing slip."),
    ("Recycling old lamps", "We take back old lamps of any brand for recycling, free of charge, at the Kelmarsh flagship store. Lumo lamps bought from us can also be sent back with a free recycling label from your account page."),
];

struct Model {
    name: &'static str,
    pairing: &'static str,
    firmware: &'static str,
    warranty_years: u32,
    repair: &'static str,
    power: &'static str,
}

const MODELS: [Model; 5] = [
    Model {
        name: "Lumo Mini",
        pairing: "hold the power button for 8 seconds until the lamp blinks blue",
        firmware: "2.4.1",
        warranty_years: 2,
        repair: "€19",
        power: "a USB-C cable; it has no battery",
    },
    Model {
        name: "Lumo Desk",
        pairing: "press the dimmer twice, then hold it for 5 seconds until the ring turns green",
        firmware: "3.1.0",
        warranty_years: 2,
        repair: "€29",
        power: "its mains adapter, or 6 hours from its built-in battery",
    },
    Model {
        name: "Lumo Pro",
        pairing:
            "open the Lumo app, choose Settings and Add lamp, and scan the QR code under the base",
        firmware: "5.0.2",
        warranty_years: 3,
        repair: "€45",
        power: "its mains adapter",
    },
    Model {
        name: "Lumo Max",
        pairing: "switch it off and on three times; it blinks white when it is ready to pair",
        firmware: "5.2.0",
        warranty_years: 3,
        repair: "€59",
        power: "its mains adapter",
    },
    Model {
        name: "Lumo Strip",
        pairing: "hold the mode button on the controller for 10 seconds until it flashes purple",
        firmware: "1.9.4",
        warranty_years: 2,
        repair: "€15",
        power: "the controller's mains plug",
    },
];

fn model_body(m: &Model) -> String {
    format!(
        "# {name}\n\n## Pairing\n\nTo pair the {name} with your phone, {pairing}. Keep the phone within 2 metres of the lamp while it pairs.\n\n## Firmware\n\nThe current firmware for the {name} is version {fw}. The Lumo app installs updates automatically at night.\n\n## Warranty\n\nThe {name} has a {years}-year warranty from the date of delivery.\n\n## Repairs\n\nAn out-of-warranty repair of the {name} costs {repair}, return shipping included.\n\n## Power\n\nThe {name} runs on {power}.\n",
        name = m.name,
        pairing = m.pairing,
        fw = m.firmware,
        years = m.warranty_years,
        repair = m.repair,
        power = m.power,
    )
}

const EXTRA_POLICY: (&str, &str) = (
    "Warranty claims",
    "All Lumo lamps have a warranty of 2 years; the Lumo Pro and the Lumo Max have 3 years. To make a warranty claim, give your order number and the lamp's serial number (printed under the base) in the chat. We repair or replace the lamp within 10 working days.",
);
const DOCK: (&str, &str) = (
    "Lumo Dock",
    "The Lumo Dock is a charging stand that works with the Lumo Mini and the Lumo Desk only. It costs €24 and charges a lamp fully in 3 hours.",
);

pub fn manifest() -> Manifest {
    super::manifest_data(include_str!("helpdesk.toml"), "helpdesk")
}

/// The intent labels of each task's opening, in the order of [`TASKS`] (labelled by
/// hand; empty for a request outside the labels).
const GOLD_INTENTS: [&[&str]; 44] = [
    &["returns"],                     // 001 how long to send back
    &["returns"],                     // 002 money back after a return
    &["shipping"],                    // 003 delivery cost
    &["shipping"],                    // 004 next-day delivery
    &["shipping"],                    // 005 shipping abroad
    &["warranty"],                    // 006 warranty of a Lumo Max
    &["order_status"],                // 007 cancel an order
    &["billing"],                     // 008 payment methods
    &["billing"],                     // 009 gift cards
    &["billing"],                     // 010 price match
    &["returns"],                     // 011 arrived broken
    &["order_status"],                // 012 parcel lost
    &["billing"],                     // 013 VAT invoice
    &["warranty"],                    // 014 repair after the warranty
    &["returns"],                     // 015 opened returns
    &["troubleshooting"],             // 016 dock compatibility
    &["troubleshooting"],             // 017 pairing
    &["troubleshooting"],             // 018 connect to the app
    &["troubleshooting"],             // 019 pairing
    &["troubleshooting"],             // 020 pairing
    &["troubleshooting"],             // 021 firmware
    &["warranty"],                    // 022 warranty length
    &["warranty"],                    // 023 repair cost
    &["troubleshooting"],             // 024 firmware
    &["order_status"],                // 025 where is my order
    &["order_status"],                // 026 when will it arrive
    &["order_status"],                // 027 when does it come
    &["order_status"],                // 028 shipped yet
    &["order_status"],                // 029 when will it arrive
    &["order_status"],                // 030 what's happening
    &["returns", "billing"],          // 031 return and invoice
    &["shipping", "billing"],         // 032 delivery cost and payment
    &["troubleshooting", "warranty"], // 033 pairing and warranty
    &["order_status", "returns"],     // 034 cancel and refund
    &["order_status"],                // 035 where is it, change the address
    &["billing"],                     // 036 student discount and gift cards
    &[],                              // 037 gift wrapping
    &[],                              // 038 recycling
    &[],                              // 039 shop hours
    &[],                              // 040 loyalty points
    &[],                              // 041 personal data
    &[],                              // 042 bulk discount
    &[],                              // 043 phone number
    &["billing"],                     // 044 cash on delivery
];

/// The documents that hold each task's facts, in the order of [`TASKS`] (by hand: a
/// fact such as "30 days" appears on several pages, and only one of them answers).
const GOLD_DOCUMENTS: [&[&str]; 44] = [
    &["returns-policy"],
    &["refunds"],
    &["standard-delivery"],
    &["express-delivery"],
    &["international-delivery"],
    &["warranty-claims"],
    &["cancelling-an-order"],
    &["payment-methods"],
    &["gift-cards"],
    &["price-match"],
    &["damaged-on-arrival"],
    &["lost-parcels"],
    &["invoices"],
    &["lumo-pro"],
    &["returns-policy"],
    &["lumo-dock"],
    &["lumo-desk"],
    &["lumo-mini"],
    &["lumo-strip"],
    &["lumo-pro"],
    &["lumo-max"],
    &["warranty-claims"],
    &["lumo-desk"],
    &["lumo-mini"],
    &["order-numbers-and-tracking"],
    &["order-numbers-and-tracking"],
    &["order-numbers-and-tracking"],
    &["order-numbers-and-tracking"],
    &["order-numbers-and-tracking"],
    &["order-numbers-and-tracking"],
    &["returns-policy", "invoices"],
    &["standard-delivery", "payment-methods"],
    &["lumo-strip", "warranty-claims"],
    &["cancelling-an-order", "refunds"],
    &[
        "order-numbers-and-tracking",
        "changing-the-delivery-address",
    ],
    &["student-discount", "gift-cards"],
    &["gift-wrapping"],
    &["recycling-old-lamps"],
    &["kelmarsh-flagship-store"],
    &["loyalty-points"],
    &["privacy-and-your-data"],
    &["bulk-orders"],
    &["contacting-us"],
    &["payment-methods"],
];

struct T {
    opening: &'static str,
    facts: &'static [&'static str],
    detail: Option<(&'static str, &'static str, &'static str)>,
    note: &'static str,
}

const fn t(opening: &'static str, facts: &'static [&'static str], note: &'static str) -> T {
    T {
        opening,
        facts,
        detail: None,
        note,
    }
}

const fn d(
    opening: &'static str,
    facts: &'static [&'static str],
    slot: &'static str,
    value: &'static str,
    say: &'static str,
    note: &'static str,
) -> T {
    T {
        opening,
        facts,
        detail: Some((slot, value, say)),
        note,
    }
}

const TASKS: [T; 44] = [
    t(
        "How long do I have to send something back?",
        &["30 days"],
        "single intent",
    ),
    t(
        "When will I get my money back after a return?",
        &["5 business days"],
        "single intent",
    ),
    t("How much is delivery?", &["€4.95", "€60"], "single intent"),
    t(
        "Can I get my order tomorrow?",
        &["€12.50", "2 pm"],
        "single intent",
    ),
    t(
        "Do you ship to Esteria?",
        &["€19", "6 to 10 working days"],
        "single intent",
    ),
    t(
        "How long is the warranty on a Lumo Max?",
        &["3 years"],
        "single intent, model stated",
    ),
    t(
        "Can I still cancel the order I placed?",
        &["2 hours"],
        "single intent",
    ),
    t(
        "Which payment methods do you accept?",
        &["PayNorth"],
        "single intent",
    ),
    t("Do your gift cards expire?", &["3 years"], "single intent"),
    t(
        "I saw a lamp cheaper elsewhere after I bought it. Can you match the price?",
        &["14 days"],
        "single intent",
    ),
    t(
        "My parcel arrived and the lamp is broken. What now?",
        &["48 hours"],
        "single intent",
    ),
    t(
        "My parcel has not moved for over a week. Is it lost?",
        &["7 days"],
        "single intent",
    ),
    t(
        "How do I get a VAT invoice for my company?",
        &["VAT number"],
        "single intent",
    ),
    t(
        "What does it cost to repair a Lumo Pro after the warranty?",
        &["€45"],
        "single intent, model stated",
    ),
    t(
        "Can I return a lamp I have already opened?",
        &["14 days", "10%"],
        "single intent",
    ),
    t(
        "Does the Lumo Dock work with the Lumo Pro?",
        &["Lumo Mini", "Lumo Desk"],
        "single intent, model stated",
    ),
    d(
        "My lamp won't pair with my phone. What do I do?",
        &["5 seconds", "green"],
        "model",
        "Lumo Desk",
        "It's a Lumo Desk.",
        "needs the model",
    ),
    d(
        "How do I connect my lamp to the app?",
        &["8 seconds", "blue"],
        "model",
        "Lumo Mini",
        "A Lumo Mini.",
        "needs the model",
    ),
    d(
        "I can't get my new lamp to pair.",
        &["10 seconds", "purple"],
        "model",
        "Lumo Strip",
        "I have the Lumo Strip.",
        "needs the model",
    ),
    d(
        "Pairing my lamp keeps failing, help!",
        &["QR code"],
        "model",
        "Lumo Pro",
        "It's the Lumo Pro.",
        "needs the model",
    ),
    d(
        "Which firmware version should my lamp be on?",
        &["5.2.0"],
        "model",
        "Lumo Max",
        "A Lumo Max.",
        "needs the model",
    ),
    d(
        "How long is the warranty on my lamp?",
        &["2 years"],
        "model",
        "Lumo Strip",
        "It's a Lumo Strip.",
        "needs the model",
    ),
    d(
        "My lamp is out of warranty and broken. How much is a repair?",
        &["€29"],
        "model",
        "Lumo Desk",
        "The Lumo Desk.",
        "needs the model",
    ),
    d(
        "What is the latest firmware for my lamp?",
        &["2.4.1"],
        "model",
        "Lumo Mini",
        "It is a Lumo Mini.",
        "needs the model",
    ),
    d(
        "Where is my order?",
        &["14 March"],
        "order_number",
        "BW-712408",
        "My order number is BW-712408.",
        "needs the order number",
    ),
    d(
        "When will my parcel arrive?",
        &["Dunmore", "2 working days"],
        "order_number",
        "BW-431977",
        "It's BW-431977.",
        "needs the order number",
    ),
    d(
        "I ordered a lamp last week. When does it come?",
        &["Kelport", "4 working days"],
        "order_number",
        "BW-508316",
        "Order BW-508316.",
        "needs the order number",
    ),
    d(
        "Has my order shipped yet?",
        &["14 March"],
        "order_number",
        "BW-760042",
        "The number is BW-760042.",
        "needs the order number",
    ),
    d(
        "Can you tell me when my delivery will arrive?",
        &["Dunmore", "2 working days"],
        "order_number",
        "BW-419520",
        "BW-419520.",
        "needs the order number",
    ),
    d(
        "What's happening with my order?",
        &["Kelport", "4 working days"],
        "order_number",
        "BW-555190",
        "It's order BW-555190.",
        "needs the order number",
    ),
    t(
        "I want to return my lamp, and I also need an invoice for it.",
        &["30 days", "account page"],
        "two intents",
    ),
    t(
        "How much is delivery, and can I pay with PayNorth?",
        &["€4.95", "PayNorth"],
        "two intents",
    ),
    t(
        "My Lumo Strip won't pair. Also, how long is its warranty?",
        &["10 seconds", "2 years"],
        "two intents, model stated",
    ),
    t(
        "Can I cancel my order, and when would I get the refund?",
        &["2 hours", "5 business days"],
        "two intents",
    ),
    d(
        "Where is my order, and can I still change the delivery address?",
        &["6 hours", "Kelport"],
        "order_number",
        "BW-523881",
        "My order number is BW-523881.",
        "two intents, needs the order number",
    ),
    t(
        "Is there a student discount, and do gift cards expire?",
        &["15%", "3 years"],
        "two intents",
    ),
    t(
        "Do you offer gift wrapping?",
        &["€3.50"],
        "outside the intent labels",
    ),
    t(
        "Can I bring my old lamps somewhere to be recycled?",
        &["Kelmarsh"],
        "outside the intent labels",
    ),
    t(
        "When is your shop in Kelmarsh open?",
        &["9:00", "18:00"],
        "outside the intent labels",
    ),
    t(
        "How do loyalty points work?",
        &["100 points", "€5"],
        "outside the intent labels",
    ),
    t(
        "How long do you keep my personal data?",
        &["6 years"],
        "outside the intent labels",
    ),
    t(
        "We want 20 lamps for our office. Is there a discount?",
        &["8%"],
        "outside the intent labels",
    ),
    t(
        "What's your phone number?",
        &["0800 414 414"],
        "outside the intent labels",
    ),
    t(
        "Can I pay cash when the parcel arrives?",
        &["cash on delivery"],
        "single intent",
    ),
];

pub fn generate(options: GenOptions) -> Generated {
    let mut rng = Rng::new(options.seed ^ 0x4E1D_E5C0);
    let mut g = Generated::new("helpdesk");
    let mut pages: Vec<(String, &str, String)> = POLICIES
        .iter()
        .chain([&EXTRA_POLICY])
        .map(|(title, text)| {
            (
                title.to_string(),
                "policy",
                format!("# {title}\n\n{text}\n"),
            )
        })
        .collect();
    pages.push((
        DOCK.0.to_string(),
        "product",
        format!("# {}\n\n{}\n", DOCK.0, DOCK.1),
    ));
    for m in &MODELS {
        pages.push((m.name.to_string(), "product", model_body(m)));
    }
    // Larger knowledge bases for performance tests: discontinued lamps with their own pages.
    for i in 0..(options.scale.max(1) - 1) * 28 {
        let name = format!("Lumo Classic{}", i + 1);
        let body = format!(
            "# {name}\n\nThe {name} was sold until {year}. It is no longer made; spare parts are available for {parts} years after the last sale. Its last firmware is version {a}.{b}.{c}.\n",
            year = 2010 + rng.below(14),
            parts = rng.range(3, 7),
            a = rng.range(1, 4),
            b = rng.range(0, 9),
            c = rng.range(0, 9),
        );
        pages.push((name, "product", body));
    }
    for (title, kind, body) in &pages {
        g.add(
            format!("kb/{}.md", slug(title)),
            document(&slug(title), title, kind, Default::default(), body),
        );
    }

    let mut tasks = Vec::new();
    for (i, ((spec, intents), docs)) in TASKS
        .iter()
        .zip(GOLD_INTENTS)
        .zip(GOLD_DOCUMENTS)
        .enumerate()
    {
        let mut profile = Vec::new();
        let mut needs = None;
        let facts: Vec<String> = spec.facts.iter().map(|f| f.to_string()).collect();
        if let Some((slot, value, say)) = spec.detail {
            profile.push(fact(slot, value, say, true));
            needs = Some(slot.to_string());
        }
        tasks.push(TaskOut {
            id: format!("help-{:03}", i + 1),
            suite: "helpdesk".into(),
            opening: spec.opening.into(),
            profile,
            must_mention: facts,
            recommend_any: vec![],
            needs_detail: needs,
            tags: vec![],
            comment: spec.note.into(),
            gold_intents: intents.iter().map(|s| s.to_string()).collect(),
            gold_documents: docs.iter().map(|s| s.to_string()).collect(),
            split: None,
        });
    }
    g.finish(options.seed, manifest(), &["help-001", "help-017", "help-025", "help-031", "help-037"], tasks, "# Generated by `ladder world generate` (crates/ladder-world/src/gen/helpdesk.rs); do not edit by hand.\n\
             # must_mention lists the checkable facts a correct answer states; needs_detail names the\n\
             # detail the customer has to be asked for first.\n");
    g
}
