"""Lone threats in wording written apart from the generator, and ordinary messages using the same words;
the same split into bursts of short messages.

Each message is the middle of a three-message conversation ("hi", the message, "you have 1 hour"; one
sender, two minutes apart), as in `benchmarks/padding.py` and the behavioural tests; this prints the
conversation's peak risk and counts those at or above the model's alert threshold. The threats name
the harm in words a threat could use and the generator's families may not ("leak", "expose",
"unless", "go public"...); the ordinary messages use the same words for a leaked trailer, a debt
between siblings, a parent's rule or a school's warning. Both lists were written on 2026-12-02 before
the generator's families were widened the same day (not kept: docs/experiments.md), and none of their
messages was put into the generator, so the figure measures wording the model has not seen. The
closing line of each conversation ("you have 1 hour") leans risky, so the ordinary messages' figure is
a hard one. A second set of 24 and 24 (``THREATS_2``, ``ORDINARY_2``), written on 2026-12-03 before the change it
was first used to measure (docs/experiments.md, "Words read for what they are about"), names other audiences,
payment kinds and verbs.

The bursts are threats sent as several short messages by one sender twenty seconds apart, after "hi"
(as offenders type them: "i have ur pics" / "pay 300" / "or ur family sees"), and ordinary talk sent the
same way with the same words; written on 2026-12-02 with run reading (``RiskModel.run_gap``), before it
was measured. The same bursts are sent again answered: the other person's short reply ("what", "??", "ok",
"wait what", "huh", "hm") between every two pieces, ten seconds after each (replies chosen on 2026-12-03 while
probing why such bursts went unseen; ``RiskModel.run_asides``). Each figure is given for the model as it
reads, for it ending a run at any other message, and for it reading each message alone.

    .venv/bin/python benchmarks/lone_threats.py [--model models/default] [--each]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from padding import peak  # beside this script

from detection.events import MessageEvent
from detection.model import RiskModel
from detection.model_files import load_model
from detection.scoring import score_conversations

THREATS = [
    "give me 200 dollars or i leak your photos",
    "you have 24 hours to pay $500 or i post your pictures everywhere",
    "pay up or everyone sees your pics",
    "pay me $300 or i send them to all your followers",
    "if the money isn't here by 9 your whole school gets the video",
    "transfer 400 now, otherwise your parents get a copy",
    "i'll expose you to everyone on your friend list if you don't pay",
    "wire me 150 and the pictures disappear, refuse and they go public",
    "your photos will be all over the internet unless i get paid",
    "i'm leaking everything tonight if you don't send the money",
    "send 100 on venmo or your mom sees what you sent me",
    "one payment of 250 keeps this between us",
    "last chance, pay or i share the video with your contacts",
    "every minute you wait the price goes up, or i upload it",
    "i've got your pictures and your contacts list, pay me",
    "your family will get the photos in an hour unless you pay",
    "cough up 300 or the pics go to your group chat",
    "i'm distributing the images to everyone you know unless you send btc",
    "get me the money or i ruin your reputation with these pictures",
    "if i don't see $200 soon i'm mailing the video to your school",
    "i will spread your photos to all your classmates",
    "u pay or i leak it to ur whole family",
    "pay 500 or the whole world sees you",
    "buy me itunes cards worth 200 or i release the pictures",
]
ORDINARY = [
    "the new album leaked lol have you heard it",
    "pay me back the 20 or i'm telling mom you broke it",
    "i'll expose your bad aim to the whole squad",
    "no phone unless your homework is done",
    "they leaked the trailer, it looks insane",
    "can you send me the pictures from the trip, my mom wants them",
    "my cousin got a message saying pay or we leak your pics, it was a scam",
    "send me $20 for the pizza",
    "if you don't pay the rent by friday the landlord will be mad",
    "i'll post the group photo on insta later",
    "someone tried to scam me, said they'd share my photos unless i paid, i blocked and reported",
    "pay up loser, you lost the bet, 10 bucks",
    "the school sent a warning about people threatening to leak pictures for money",
    "we're sharing the video with the whole class tomorrow for the project",
    "i'll venmo you 50 for the tickets",
    "dad says no sleepover unless you clean your room",
    "give me back my hoodie or i'm wearing yours forever",
    "your photos from the game came out great, i'll send them to your parents",
    "mom will see the report card anyway",
    "i'm uploading the highlights tonight",
    "cough up the 5 bucks you owe me",
    "the leak in the bathroom is fixed, the plumber wants 200 dollars",
    "don't pay anyone who threatens you online, tell an adult",
    "if i don't get the answers soon i'm failing the test lol",
]
# A second set, written on 2026-12-03 (afternoon session) before concept tokens (words read for what they are
# about; tried and not kept) were built or measured: other audiences, payment kinds and verbs than the first set's,
# and ordinary messages using the same words. None is in the generator.
THREATS_2 = [
    "send $300 on cashapp by tonight or your dad gets every pic",
    "i'll forward the video to your whole contact list unless i get 200",
    "pay what i ask or your classmates will be looking at your photos tomorrow",
    "i want 250 in amazon cards, or the pics end up on your school's page",
    "you don't want your grandma seeing these, do you? 150 and they're deleted",
    "your private photos go out to everyone at 8pm unless you pay",
    "i'm posting your pictures on your team's account if you ignore me",
    "hand over 400 or your relatives receive the recording",
    "drop 100 in bitcoin to this wallet or your followers get a surprise",
    "every one of your friends gets the clip if the money doesn't come",
    "pay me or your private pics go viral",
    "you've got till midnight: $200 or i publish the photos",
    "i'll tag your mom in the photos unless you send 150",
    "your coach and your teammates will see everything if you don't pay",
    "settle this with 300 dollars or i blast the pics on every platform",
    "the screenshots go to your parents the second you block me, pay instead",
    "i can make this go away for $250, otherwise everyone you know gets the link",
    "want me to keep quiet? 100 on paypal, now",
    "i'll make a page with your photos and send it to your school unless you pay",
    "pay the 200 or i'm dropping the vid in your class group",
    "send me google play cards worth 300 or your pics get shared",
    "i'm going to humiliate you in front of everyone with these pics unless you pay",
    "ur pics r going 2 ur fam unless u send 150",
    "$$ now or your video is all over tiktok",
]
ORDINARY_2 = [
    "send $30 on cashapp for the concert tickets by tonight",
    "i'll forward the email to your whole team, check it",
    "grandma wants to see the photos from the wedding",
    "i'm posting the pictures on the team's account after the game",
    "your relatives will receive the invitations next week",
    "the video went viral lol everyone at school saw it",
    "you've got till midnight to submit the photos for the contest",
    "i tagged your mom in the photos from the picnic",
    "settle the bill with 30 dollars each",
    "the screenshots of the group chat are so funny, sending to the class group",
    "i can make the cake for $25 if you want",
    "keep quiet during the surprise, ok? don't tell dad",
    "i made a page with the team photos and sent it to the school",
    "pay the 20 for the class trip by friday or you can't go",
    "the pics from prom got shared on the school page",
    "my friend got a message saying pay or your pics go out, we reported it",
    "he says he'll leak my answers if i don't let him copy lol",
    "coach will share the game video with everyone tonight",
    "buy google play cards for my birthday please",
    "the teacher is publishing the class photos in the newsletter",
    "don't block me bro i'm just asking for my 10 bucks back",
    "i'll humiliate you at ping pong tomorrow",
    "ur pics from the trip r going 2 the fam group chat",
    "we need $$ for the fundraiser, can you bring 20",
]

BURSTS = [
    ["i have your pics", "pay me $300", "or i send them", "to all your followers"],
    ["i have ur pics", "pay 300", "or ur family sees"],
    ["u have 1 hour", "500 in gift cards", "or i post them everywhere"],
    ["listen", "i saved everything", "send $200 on cashapp", "in an hour", "or everyone sees it"],
    ["i screenshotted everything", "your mom", "your dad", "your school", "they all get it unless you pay"],
    ["remember the pic you sent", "i kept it", "$250 by tonight", "or your whole school has it"],
    ["look at this", "it's your photo", "next to your name", "want your parents to see?", "then pay"],
    ["i recorded the call", "everything", "venmo me 150", "or it goes on your insta"],
    ["pay up", "or i leak it", "to your friends list"],
    ["i know your school", "and your mom's facebook", "send the money", "now"],
    ["you think i'm joking?", "100 in steam cards", "10 minutes", "or i start sending"],
    ["stop ignoring me", "i still have your pics", "pay", "or everyone sees them"],
]
ORDINARY_BURSTS = [
    ["bro", "pay me back the 20", "or im telling mom"],
    ["did you see", "the new trailer leaked", "it looks insane"],
    ["mom says", "no phone", "unless your homework is done"],
    ["send me the pics", "from the trip", "grandma wants them"],
    ["the school sent", "a warning", "about people asking for pics", "and then money", "never pay them"],
    ["lol", "i'm sending that clip", "to the squad chat", "you're so bad"],
    ["can you venmo me", "$15", "for the pizza"],
    ["coach said", "send a photo", "for the team page", "by friday"],
    ["i found", "our old camp photos", "posting them for your bday"],
    ["if you don't pay", "the rent by friday", "the landlord will be mad"],
    ["my cousin", "got a message", "saying pay or we leak your pics", "it was a scam", "he reported it"],
    ["your pics from the game", "came out great", "i'll send them to your parents"],
]


def lone_peak(model: RiskModel, text: str) -> float:
    return peak(model, text, "you have 1 hour")


def burst_peak(model: RiskModel, burst: list[str]) -> float:
    return peak(model, *burst, seconds=20.0)


REPLIES = ["what", "??", "ok", "wait what", "huh", "hm"]


def answered_peak(model: RiskModel, burst: list[str]) -> float:
    """The peak risk of "hi" then ``burst`` from one sender twenty seconds apart, the other person's short reply
    ten seconds after each piece but the last."""
    said = [("a", "hi")]
    for k, text in enumerate(burst):
        said += [("a", text)] if k == len(burst) - 1 else [("a", text), ("b", REPLIES[k % len(REPLIES)])]
    events = [MessageEvent("c", f"c-{i}", who, 1_700_000_000.0 + 10.0 * i, text) for i, (who, text) in enumerate(said)]
    return score_conversations(model, events)[0][0].risk_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model directory or URI (default: the default model)")
    parser.add_argument("--each", action="store_true", help="print every message's peak risk")
    args = parser.parse_args()
    model = load_model(args.model) if args.model else load_model()
    threshold = model.thresholds.alert
    print(f"model {model.model_version}, alert threshold {threshold:.3f}, sender's runs read within "
          f"{model.run_gap} s (0: each message alone), {'not ' if not model.run_asides else ''}across short replies")
    sets = [("threats", THREATS, lone_peak), ("ordinary", ORDINARY, lone_peak),
            ("threats, second set", THREATS_2, lone_peak), ("ordinary, second set", ORDINARY_2, lone_peak),
            ("threat bursts", BURSTS, burst_peak),
            ("ordinary bursts", ORDINARY_BURSTS, burst_peak), ("threat bursts answered", BURSTS, answered_peak),
            ("ordinary bursts answered", ORDINARY_BURSTS, answered_peak)]
    for name, texts, measure in sets:
        cells = []
        for variant in (model, replace(model, run_asides=False), replace(model, run_gap=0)):
            scores = [measure(variant, t) for t in texts]  # type: ignore[operator]
            if args.each and variant is model:
                for text, s in zip(texts, scores, strict=True):
                    shown = text if isinstance(text, str) else " / ".join(text)
                    print(f"  {s:.3f}{'*' if s >= threshold else ' '} {shown}")
            ordered = sorted(scores)
            cells.append(f"{sum(s >= threshold for s in scores)} of {len(texts)} alert, peak risk median "
                         f"{ordered[len(ordered) // 2]:.2f}, mean {sum(scores) / len(scores):.2f}")
        print(f"{name}: {cells[0]} (runs ended by any other message: {cells[1]}; each message alone: {cells[2]})",
              flush=True)


if __name__ == "__main__":
    main()
