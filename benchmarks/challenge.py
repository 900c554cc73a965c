"""A small challenge set written by hand, outside the generator: how a model does on other wording.

The project will be measured on conversations written independently of its generator. These
conversations are the nearest stand-in in this repository: written by hand in wording, settings and
kinds of negative the generator does not have (a game lobby, a grandmother's surprise, a photo
contest, a lost phone, a group project, a skin trade...). They share one author with the
generator, are few, and are not real chats, so read the figures as a rough check, not a measure.
Text is non-graphic: requests and threats are named, never described.

Part a (26 conversations) has been looked at while choosing settings (``TrainConfig.stage_balance``),
so its figures flatter a little. Part b (22: formal and shouted wording, emojis, spaced letters, a
hacked-account claim, a model scout, siblings, a tutor, a school safety message...) was written
later and measured as written; keep it that way, and report it apart. Part c (26: short direct
extortion in many wordings, and negatives that use the same words harmlessly) came third, in the
same way, and part d (26: grooming in new settings, direct extortion, negatives with money, photos
and threats in them) fourth, written before the changes it was used to measure. Part e (28: direct
extortion in wordings of its own, grooming that stops at the request, negatives with siblings'
threats, payments, photos and warnings) fifth, the same way. Part f (24: grooming by a producer, a fake
scholarship, a brother's friend; extortion with AI-made pictures, a claimed recording, a fake officer; negatives
with dues, receipts, a scam and a deepfake scandal discussed) sixth, on 2026-12-03, the same way; ``--part all``
stays parts a to e, the set earlier figures were measured on, and f is reported apart. Part g (24: grooming by an
online coach, a streamer, a mentor, gifts in a game; extortion worded formally, in slang, spelled to dodge filters,
after a video call; negatives with a coach's photo request, roommates' rent, a bet, a sleepover picture, a
counselor's warning and a young person telling a friend) seventh, on 2026-12-06, measured once as written, and
reported apart as f is.

Prints each conversation's outcome and the figures that ``riskline evaluate`` computes.

    .venv/bin/python benchmarks/challenge.py [--part a|...|g|all] [--model models/default] [--write challenge.jsonl]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detection.model_files import load_model
from detection.writers import write_rows
from training.curves import interval_text
from training.data import load_labelled
from training.evaluate import first_threats, score_and_evaluate

# A message is (speaker, text) or (speaker, text, stage); "a" opens the chat. A speaker of "+"
# moves the clock on by the hours in its text. Each conversation: (id, label, kind, minutes
# between messages, messages).
Message = tuple[str, ...]
CONVERSATIONS: list[tuple[str, int, str, float, list[Message]]] = [
    ("pos-lobby", 1, "fast, gaming", 1.0, [
        ("a", "gg that last round was insane, you carried", "rapport"), ("b", "lol thanks"),
        ("a", "fr you're cracked at this. how long you been playing", "rapport"), ("b", "like 2 yrs"),
        ("a", "you in high school or what", "risk_check"), ("b", "freshman"),
        ("a", "nice. your folks let you stay up this late gaming?", "risk_check"), ("b", "they're asleep lol"),
        ("a", "bet. this chat lags, hit me up on telegram instead, same name", "isolation"), ("b", "ok added"),
        ("a", "ngl ur cute. show me a pic of you, something you wouldn't put on your story", "sexual"),
        ("b", "idk man"), ("a", "come on i'll delete it right after", "sexual"), ("b", "...fine sent"),
        ("a", "lol got you. i saved it. 200 on a steam card in the next 30 mins or it goes to everyone on "
              "your friends list", "coercion"),
        ("b", "wait what please dont"), ("a", "clock's ticking. send the card code here", "payment"),
    ]),
    ("pos-cloud", 1, "direct", 2.0, [
        ("a", "hey is this jayden"), ("b", "who's asking"),
        ("a", "i have the pics from your cloud backup. you've got one day before your mom and your whole "
              "school see them", "coercion"),
        ("b", "what pics?? who is this"),
        ("a", "250 dollars in bitcoin and they get deleted. i'll send the wallet", "payment"),
    ]),
    ("pos-artist", 1, "slow, stops at the request", 30.0, [
        ("a", "loved the drawing you posted, the shading is really good", "rapport"), ("b", "omg thank you"),
        ("a", "you've got real talent, most people your age can't do that", "rapport"), ("b", "i'm 14 so idk lol"),
        ("a", "seriously, i work with artists, i could help you get noticed", "rapport"),
        ("b", "that would be so cool"), ("+", "20"),
        ("a", "do your parents know you post art online?", "risk_check"),
        ("b", "my dad does but he doesn't really look"),
        ("a", "good, parents don't always get it. let's keep our chats between us for now", "isolation"),
        ("b", "ok"), ("a", "do you have whatsapp? easier to send files there", "isolation"), ("b", "yeah"),
        ("+", "26"),
        ("a", "i want to paint a portrait of you. send me a photo of just you, the kind you don't show anyone",
         "sexual"),
        ("b", "like what kind"), ("a", "you know, a private one. trust me", "sexual"), ("b", "i don't know"),
    ]),
    ("pos-pushback", 1, "pushback", 3.0, [
        ("a", "hey you seem chill", "rapport"), ("b", "lol who are you"),
        ("a", "just a guy from around your school, 17, how about you", "risk_check"), ("b", "15"),
        ("a", "anyone watching your phone?", "risk_check"), ("b", "no why"),
        ("a", "send a pic for me, just us", "sexual"), ("b", "no i'm not doing that"),
        ("a", "you already sent me that selfie, i edited it. pay or i post it with your name on it", "coercion"),
        ("b", "i'm blocking you"),
        ("a", "block me and it goes to every follower you have. 100 on cashapp", "payment"),
    ]),
    ("pos-leet", 1, "fast, obfuscated", 1.5, [
        ("a", "h3y u r s0 pr3tty", "rapport"), ("b", "thanks?"), ("a", "h0w 0ld r u", "risk_check"), ("b", "16"),
        ("a", "m0ve to sn@p, this app is weird", "isolation"), ("b", "k"), ("a", "s3nd a pr1v8 p1c", "sexual"),
        ("b", "ok"), ("a", "n0w s3nd 0.01 btc or ur f@mily s33s what u s3nt", "coercion"),
    ]),
    ("pos-allowance", 1, "stops at the request, money offered", 10.0, [
        ("a", "i help out students with money sometimes, no strings", "rapport"), ("b", "for real?"),
        ("a", "yeah, i sent someone 50 last week. you still in school?", "risk_check"), ("b", "yea 10th grade"),
        ("a", "nice. let's talk on kik so nobody bugs us", "isolation"), ("b", "ok"),
        ("a", "i'll send you 100 if you send me a pic only for me", "sexual"), ("b", "what kind of pic"),
        ("a", "a private one. and don't tell anyone about our deal", "sexual"),
    ]),
    ("pos-newgirl", 1, "fast, trade first", 1.0, [
        ("a", "hey u go to lincoln high right? i think i've seen you", "rapport"), ("b", "yeah who's this"),
        ("a", "mia, just moved here. ur kinda cute ngl", "rapport"), ("b", "haha thx"),
        ("a", "wanna trade pics? i'll go first", "sexual"), ("b", "ok i guess"), ("b", "sent"),
        ("a", "i recorded our call. i have your followers list. pay $500 or this goes to all of them", "coercion"),
        ("b", "please i don't have that"), ("a", "then 200. apple gift card. now", "payment"), ("b", "ok ok"),
    ]),
    ("pos-verify", 1, "groomed over a week", 240.0, [
        ("a", "been talking a week and i feel like i know you", "rapport"), ("b", "same honestly"),
        ("a", "are you home by yourself after school?", "risk_check"), ("b", "usually till 6"),
        ("a", "let's use signal, i don't trust this app", "isolation"), ("b", "sure"),
        ("a", "i need to know you're real. send a photo holding a paper with my name, then a more personal one",
         "sexual"),
        ("b", "why personal"), ("a", "because that's what people who trust each other do", "sexual"),
        ("b", "ok fine"),
        ("a", "now you do what i say. 300 in google play cards or your cousins and teachers get that photo",
         "coercion"),
    ]),
    ("pos-school-page", 1, "direct, no money", 5.0, [
        ("a", "i have what you sent to tyler last month", "coercion"), ("b", "what"),
        ("a", "you're going to send me more or i share it on the school page", "coercion"),
        ("b", "leave me alone"), ("a", "tonight. or everyone sees it tomorrow morning", "coercion"),
    ]),
    ("pos-paypal", 1, "fast, spaced letters", 2.0, [
        ("a", "hey remember me from the game lobby", "rapport"), ("b", "kinda"),
        ("a", "you're fun to talk to. what grade r u in", "risk_check"), ("b", "9th"),
        ("a", "send me a pic, only for me", "sexual"), ("b", "ok"),
        ("a", "p a y p a l me 80 or i leak the pic you sent me to your parents", "coercion"),
    ]),
    ("pos-football", 1, "small talk, then a quick turn", 4.0, [
        ("a", "did you watch the game last night"), ("b", "yeah that last goal was crazy"),
        ("a", "the keeper had no chance"), ("b", "fr"), ("a", "you play for your school?"), ("b", "jv team"),
        ("a", "that's sick, you must be good", "rapport"), ("b", "i'm ok lol"),
        ("a", "is your phone yours or on your parents' plan", "risk_check"), ("b", "my mom's plan"),
        ("a", "then delete our messages after, she wouldn't get it", "isolation"), ("b", "ok"),
        ("a", "send me something special, just for me", "sexual"), ("b", "like what"), ("b", "ok there"),
        ("a", "now 150 in amazon cards or i send it to your team group chat", "coercion"),
    ]),
    ("pos-facetime", 1, "very fast", 0.5, [
        ("a", "heyy"), ("b", "hey"), ("a", "u r cute, how old r u", "risk_check"), ("b", "17"),
        ("a", "same! r u alone rn", "risk_check"), ("b", "ye"), ("a", "lets facetime, just us", "sexual"),
        ("b", "ok"), ("a", "i recorded it. i have your contacts. pay 400 or it gets posted. dont ignore me",
                      "coercion"),
    ]),
    ("neg-group-project", 0, "group project", 3.0, [
        ("a", "did you finish your part of the slides"), ("b", "almost"),
        ("a", "send me a pic of your notes so i can start the summary"), ("b", "ok sent"),
        ("a", "if you don't send your slides by 8 i'm telling ms lee you did nothing lol"),
        ("b", "relax i'll send it"), ("a", "thanks, don't forget the sources"),
    ]),
    ("neg-tickets", 0, "ticket resale", 5.0, [
        ("a", "still selling the two tickets?"), ("b", "yes 60 each"), ("a", "can i pay with venmo"),
        ("b", "sure, send it and i'll transfer them"), ("a", "sent 120"), ("b", "transferred, check your email"),
        ("a", "got them thanks"),
    ]),
    ("neg-grandma", 0, "grandparent", 10.0, [
        ("a", "hi sweetie, it's grandma. are you home alone today?"), ("b", "hi grandma, mom's at work"),
        ("a", "can you send me a photo of you in your new uniform?"), ("b", "ok one sec"),
        ("a", "don't tell your mom, i'm sending you some money for your birthday as a surprise"),
        ("b", "aww thank you"), ("a", "it's 50 dollars, keep it between us until the party"),
    ]),
    ("neg-warning", 0, "talking about sextortion", 2.0, [
        ("a", "some guy said he'd leak my pics unless i paid him in gift cards"),
        ("b", "that's sextortion, don't pay. screenshot it, block him and report it"),
        ("a", "i told my mom, we reported it"), ("b", "good. takeitdown can help get stuff removed"),
        ("a", "yeah she found that"),
    ]),
    ("neg-rent", 0, "roommates", 30.0, [
        ("a", "rent's due friday, your share is 450"), ("b", "i'll zelle you thursday"),
        ("a", "pay me or i'm telling the landlord about your cat lol"), ("b", "haha the cat pays rent too"),
        ("b", "sent"), ("a", "got it"),
    ]),
    ("neg-photo-club", 0, "photo contest", 20.0, [
        ("a", "send me the photo you took at the lake, the one nobody has seen yet, for the contest"),
        ("b", "the sunset one?"), ("a", "yes. make sure your parents sign the release form"),
        ("b", "ok they will"), ("a", "and don't post it anywhere before the judging, keep it private"),
        ("b", "got it"),
    ]),
    ("neg-babysitting", 0, "babysitting job", 15.0, [
        ("a", "hi, are your parents home? i need to confirm the time for saturday"), ("b", "my mom is, i'll ask"),
        ("a", "great. can you send me a pic of your first aid certificate"), ("b", "sent it"),
        ("a", "perfect. it's 15 an hour, i'll pay through zelle after"), ("b", "sounds good"),
    ]),
    ("neg-lost-phone", 0, "lost phone", 5.0, [
        ("a", "hey i found a phone at the park, your number was on the lock screen"), ("b", "omg thank you"),
        ("a", "can you send a pic of the case so i know it's yours"), ("b", "blue with stickers, sent a pic"),
        ("a", "that's it. i can drop it at the library front desk"), ("b", "can i send you something for it"),
        ("a", "no money needed lol"),
    ]),
    ("neg-skin-trade", 0, "game trade dispute", 2.0, [
        ("a", "you said you'd trade back my skin"), ("b", "i'll do it later"),
        ("a", "give it back or i'm reporting you to the mods and posting the screenshots in the discord"),
        ("b", "ok ok sending it back"), ("a", "got it, thanks"),
    ]),
    ("neg-party-pic", 0, "friends", 3.0, [
        ("a", "you looked good in the group pic"), ("b", "haha thanks"),
        ("a", "send me that pic from the party, the one with all of us"), ("b", "ok sending"),
        ("a", "i'm putting it on my story, tag you?"), ("b", "yes tag me"),
    ]),
    ("neg-band-trip", 0, "school trip", 60.0, [
        ("a", "band trip deposit is 75, parents can pay on the school site or venmo the booster club"),
        ("b", "my dad said he'll pay tonight"), ("a", "send a photo of the signed permission slip too"),
        ("b", "ok"), ("a", "anyone who hasn't paid by friday can't go, sorry, those are the rules"),
    ]),
    ("neg-cousin", 0, "cousin teasing", 4.0, [
        ("a", "i have the video of you falling off the trampoline lol"), ("b", "delete it"),
        ("a", "if you don't come to my party i'm posting it for everyone"), ("b", "fine i'll come"),
        ("a", "haha knew it, see you saturday"),
    ]),
    ("neg-mom-warning", 0, "parent", 5.0, [
        ("a", "i read about kids being blackmailed for photos online"),
        ("a", "if anyone ever asks you for pics or money, tell me, you won't be in trouble"),
        ("b", "ok mom i know"), ("a", "and never pay them. are you home by yourself tonight?"),
        ("b", "dad's here"), ("a", "ok love you"),
    ]),
    ("neg-dog-walk", 0, "dog-walking job", 30.0, [
        ("a", "can you send a photo of buddy after the walk so i know he's ok"), ("b", "sure"),
        ("a", "it's 20 per walk, i'll send it on cashapp"), ("b", "thank you"),
        ("a", "please keep the gate code private"), ("b", "of course"),
    ]),
]

# Part b, written on 2026-11-29 before any model change of that session and measured as written
# (no wording was changed after seeing a score).
CONVERSATIONS_B: list[tuple[str, int, str, float, list[Message]]] = [
    ("b-pos-formal", 1, "slow, formal wording", 20.0, [
        ("a", "Good evening. I saw your profile and you seem like a very kind person.", "rapport"),
        ("b", "thank you"), ("a", "May I ask how old you are? You look very grown up.", "risk_check"), ("b", "15"),
        ("a", "Is your family strict about who you speak with on your phone?", "risk_check"), ("b", "not really"),
        ("a", "I would prefer we continue on Telegram. It is more secure for both of us.", "isolation"),
        ("b", "ok"), ("+", "20"),
        ("a", "Could you send me a photograph of yourself? Something personal, only for me.", "sexual"),
        ("b", "i guess"), ("b", "there"), ("+", "2"),
        ("a", "I have saved everything. Your relatives will receive it unless you transfer 300 euros today.",
         "coercion"),
        ("b", "what?? please no"), ("a", "Western Union or gift cards. The choice is yours.", "payment"),
    ]),
    ("b-pos-caps", 1, "no grooming, shouting", 0.5, [
        ("a", "YO"), ("b", "who is this"), ("a", "CHECK WHAT I GOT OF YOU", "coercion"), ("b", "??"),
        ("a", "I HAVE UR PICS FROM LAST NIGHT. SEND 200 ON CASHAPP OR THEY GO IN UR FAMILY GROUP CHAT",
         "coercion"),
        ("b", "i dont have 200"), ("a", "U HAVE 30 MINS. FIGURE IT OUT", "payment"),
    ]),
    ("b-pos-emoji", 1, "fast, emojis", 2.0, [
        ("a", "ur so pretty 😍😍", "rapport"), ("b", "lol thx"), ("a", "how old r u 👀", "risk_check"),
        ("b", "14"), ("a", "ur parents strict? 🤔", "risk_check"), ("b", "kinda"),
        ("a", "lets go to insta dms 🙈", "isolation"), ("b", "ok"),
        ("a", "send me a cute pic 😏 just for me", "sexual"), ("b", "ok 🙈"),
        ("a", "lol ur so dumb 💀 i screenshotted it", "coercion"),
        ("a", "pay up or ur whole follower list gets it 📤", "coercion"), ("b", "please dont"),
        ("a", "100 on an apple card 💳 now", "payment"),
    ]),
    ("b-pos-slow-romance", 1, "slow, over a week", 60.0, [
        ("a", "hey, you commented on my song cover, thanks, that meant a lot", "rapport"),
        ("b", "it was really good"), ("+", "24"),
        ("a", "i keep listening to your voice note, you have such a nice laugh", "rapport"), ("b", "haha stop"),
        ("+", "24"), ("a", "do your parents mind you texting late? i don't want you to get in trouble",
                      "risk_check"),
        ("b", "they're asleep by 11"), ("+", "24"),
        ("a", "honestly i've never felt this close to someone i haven't met", "rapport"), ("b", "me neither"),
        ("a", "let's keep us between us for now, people would make it weird", "isolation"), ("b", "ok"),
        ("+", "48"), ("a", "would you send me one photo that's only ours? nobody else ever sees it", "sexual"),
        ("b", "ok but only you"), ("b", "sent"), ("+", "5"),
        ("a", "i need 400. if i don't get it by friday your mom gets the photo and our whole chat", "coercion"),
    ]),
    ("b-pos-fake-girl", 1, "posing as a girl, fast", 1.0, [
        ("a", "hey i'm jess, 16, saw u at the game last week", "rapport"), ("b", "oh hey"),
        ("a", "ur really cute ngl. u single?", "rapport"), ("b", "yeah lol"),
        ("a", "my parents are out rn, r yours?", "risk_check"), ("b", "yeah"),
        ("a", "wanna video chat? just us", "sexual"), ("b", "sure"), ("+", "1"),
        ("a", "i recorded u. i made a collage with ur pics and ur name", "coercion"),
        ("a", "500 or it goes to ur team and ur mom. i know ur school and ur coach", "coercion"),
        ("b", "wait please i'm 15 i don't have money"), ("a", "bitcoin or cash app. NOW", "payment"),
    ]),
    ("b-pos-scout", 1, "model scout, no threat", 30.0, [
        ("a", "hi! i'm scouting for a teen clothing brand and your photos caught our eye", "rapport"),
        ("b", "really?"), ("a", "how old are you, and do your parents manage your account?", "risk_check"),
        ("b", "16, no it's just me"),
        ("a", "perfect. this is confidential for now, please don't involve your parents yet", "isolation"),
        ("b", "why not"), ("a", "contracts aren't signed, it could fall through. add me on whatsapp", "isolation"),
        ("b", "ok"), ("a", "we need a few private test shots, no one at the brand sees them but me", "sexual"),
    ]),
    ("b-pos-gamer-gift", 1, "gift then threat", 3.0, [
        ("a", "ur goated at this game, want me to gift u the battle pass", "rapport"), ("b", "wait fr?"),
        ("a", "ya. do u have ur own card or do ur parents pay for stuff", "risk_check"), ("b", "my dad pays"),
        ("a", "add me on discord so we can talk w/o the lobby", "isolation"), ("b", "added"),
        ("a", "ok i sent the pass. send me a pic as a thank you, a private one", "sexual"), ("b", "ok"),
        ("a", "u owe me 50 now or ur whole clan sees that pic", "coercion"),
    ]),
    ("b-pos-allowance", 1, "money first, no threat", 45.0, [
        ("a", "i can send you some money every week, no catch, you seem like you need a break", "rapport"),
        ("b", "why would you do that"), ("a", "i just like helping. do you have cashapp?", "rapport"),
        ("b", "yes"), ("a", "does anyone check your cashapp? i'd rather it stay between us", "isolation"),
        ("b", "no one checks"), ("a", "great. all i ask is you send me pics of you sometimes", "sexual"),
    ]),
    ("b-pos-hacked", 1, "no grooming, hacked account claim", 5.0, [
        ("a", "i got into your icloud", "coercion"), ("b", "what"),
        ("a", "every private photo you ever took is on my drive now", "coercion"),
        ("a", "send 0.02 bitcoin to the address below within 24 hours or i release them to your contacts",
         "payment"),
        ("b", "this is a scam"), ("a", "test me. your sister is first on the list", "coercion"),
    ]),
    ("b-pos-spaced", 1, "spaced letters to dodge filters", 1.0, [
        ("a", "h e y  c u t i e", "rapport"), ("b", "hi?"), ("a", "a r e  u  a l o n e", "risk_check"),
        ("b", "yes"), ("a", "s e n d  a  p i c  o n l y  f o r  m e", "sexual"), ("b", "no"),
        ("a", "i  w i l l  p o s t  t h e  o n e  y o u  s e n t  l a s t  w e e k", "coercion"),
        ("a", "p a y  1 5 0  v e n m o", "payment"),
    ]),
    ("b-neg-brother", 0, "siblings", 3.0, [
        ("a", "i'm telling mom you broke the tv unless you give me 20 bucks"), ("b", "you're so annoying"),
        ("a", "and delete that pic of me sleeping or i post the one of you crying at the movie"),
        ("b", "fine i deleted it"), ("a", "and the 20?"), ("b", "saturday, when i get paid"),
    ]),
    ("b-neg-coach", 0, "team fundraiser", 60.0, [
        ("a", "reminder: fundraiser money is due friday, 40 per player, venmo or cash"),
        ("b", "ok my mom will venmo"), ("a", "send me a photo of your signed medical form too"),
        ("b", "will do"), ("a", "are your parents coming to the game saturday? we need drivers"),
        ("b", "my dad can drive"),
    ]),
    ("b-neg-tutor", 0, "online tutor", 10.0, [
        ("a", "hi, for tomorrow's lesson, will you be alone or will your mum sit in?"),
        ("b", "my mum will be there for the first bit"),
        ("a", "great. please send a pic of the worksheet you're stuck on"),
        ("b", "sent"), ("a", "thanks. the session is 30, your mum can pay by paypal afterwards"),
    ]),
    ("b-neg-crush", 0, "teen crush", 5.0, [
        ("a", "ok i have to say it, i think you're really cute"), ("b", "omg stop, i like you too"),
        ("a", "wanna go to the movies friday? don't tell anyone yet lol"), ("b", "yes!! my lips are sealed"),
        ("a", "send me that selfie from art class, you looked happy"), ("b", "haha ok"),
    ]),
    ("b-neg-karaoke", 0, "friends teasing", 2.0, [
        ("a", "i have the video of you at karaoke lmao"), ("b", "noooo"),
        ("a", "buy me lunch tomorrow or it goes on my story"), ("b", "blackmail 😂 fine, tacos"),
        ("a", "deal, deleting it after lunch"),
    ]),
    ("b-neg-assembly", 0, "school safety message", 1440.0, [
        ("a", "Message from the principal: some students have been targeted by online blackmail."),
        ("a", "Offenders pose as teens, ask for photos, then demand gift cards or money."),
        ("a", "If this happens: do not pay, stop replying, keep the messages and tell a trusted adult."),
        ("b", "thank you for letting us know"),
    ]),
    ("b-neg-marketplace", 0, "selling a phone", 10.0, [
        ("a", "is the phone still available"), ("b", "yes"), ("a", "can you send a pic of the screen on"),
        ("b", "sent"), ("a", "is it unlocked? i can pay 200 on cashapp"),
        ("b", "yes unlocked. meet at the police station parking lot?"), ("a", "perfect, 5pm"),
    ]),
    ("b-neg-aunt", 0, "aunt", 20.0, [
        ("a", "are you home alone this evening? i'll drop off dinner"), ("b", "yes mom's working late"),
        ("a", "send me a pic of the cake you baked!"), ("b", "sent, it's lopsided lol"),
        ("a", "it looks great. don't tell your brother, it's a surprise for his birthday"),
    ]),
    ("b-neg-debt", 0, "friends and money", 30.0, [
        ("a", "you still owe me 40 from the concert"), ("b", "i know i know"),
        ("a", "pay me back or i'm telling everyone you're broke lol"), ("b", "sending it now on zelle"),
        ("a", "got it, thanks"),
    ]),
    ("b-neg-trash-talk", 0, "gaming trash talk", 0.5, [
        ("a", "ur trash, 0 and 12 lmao"), ("b", "lag"), ("a", "i'm posting ur stats in the server"),
        ("b", "go ahead"), ("a", "pay me 5 bucks in robux and i'll carry u next game"), ("b", "never"),
    ]),
    ("b-neg-photographer", 0, "school photographer", 120.0, [
        ("a", "hi, your school photos are ready in a private gallery, the link is only for your family"),
        ("b", "ok"), ("a", "a parent needs to sign the release before we print"),
        ("a", "prints are 25, pay online or send cash with the form"),
    ]),
    ("b-neg-help", 0, "friend asking for help", 3.0, [
        ("a", "someone i don't know says he'll post my pics if i don't pay him"),
        ("b", "don't pay. screenshot everything and block him"), ("a", "i'm scared"),
        ("b", "i'll come with you to tell your dad. you can report it too"), ("a", "ok thank you"),
    ]),
]

# Part c (26 conversations) was written on 2026-11-30, after part b's misses showed that short,
# direct threats worded unlike the generator went unnoticed. It is mostly direct extortion (a claim,
# a demand and a consequence, in many wordings) and negatives that use the same words harmlessly.
# Measured as written on the default of that day (digest ac095dab): 6 of 16 alerted, 1 false alert
# of 10. One line the generator writes word for word was then reworded ("add me on telegram"), and
# with it 7 of 16 alert. Generator changes tried after seeing its misses were not kept (docs/experiments.md); if
# one is, its figures here will flatter. Keep it as it is now.
CONVERSATIONS_C: list[tuple[str, int, str, float, list[Message]]] = [
    ("c-pos-contacts", 1, "no grooming, contact list", 1.0, [
        ("a", "hey"), ("b", "who is this"),
        ("a", "i have your private pics. pay 300 or your whole contact list gets them", "coercion"),
        ("b", "what?? i never sent you anything"), ("a", "check the screenshot. 300, today", "payment"),
    ]),
    ("c-pos-leak-hour", 1, "no grooming, deadline", 1.0, [
        ("a", "u got 1 hour to send $150 on cashapp or i leak everything", "payment"), ("b", "please no"),
        ("a", "clock started", "payment"),
    ]),
    ("c-pos-hacked-snap", 1, "no grooming, hacked account claim", 2.0, [
        ("a", "i hacked your snap and saved all your private pics", "coercion"), ("b", "that's not possible"),
        ("a", "transfer 100 to my paypal or your mum gets the video", "payment"),
    ]),
    ("c-pos-expose-school", 1, "no grooming, formal", 3.0, [
        ("a", "I'm going to expose you to your entire school unless you pay me", "coercion"), ("b", "for what"),
        ("a", "You know what you sent. 250 in gift cards.", "payment"),
    ]),
    ("c-pos-followers", 1, "fast grooming", 1.0, [
        ("a", "you're cute, how old are you", "risk_check"), ("b", "15"),
        ("a", "send a pic just for me", "sexual"), ("b", "ok"),
        ("a", "you better send the money or those photos go to every follower you have", "coercion"),
    ]),
    ("c-pos-steam", 1, "no grooming, gift cards", 1.0, [
        ("a", "give me 500 in steam cards and nobody sees the pictures", "payment"), ("b", "i don't have that"),
        ("a", "then ask your parents. tick tock", "payment"),
    ]),
    ("c-pos-dad-facebook", 1, "no grooming, deadline", 2.0, [
        ("a", "hello"), ("b", "hi?"),
        ("a", "if i don't get paid tonight the pics go to your dad's facebook", "coercion"), ("b", "what pics"),
    ]),
    ("c-pos-classmates", 1, "no grooming", 1.0, [
        ("a", "wire the money now or i'm forwarding your pics to your classmates", "payment"),
        ("b", "stop"), ("a", "now", "payment"),
    ]),
    ("c-pos-group-chat", 1, "no grooming", 1.0, [
        ("a", "i'll drop your pics in the school group chat if you don't pay up", "coercion"), ("b", "who is this"),
    ]),
    ("c-pos-public-page", 1, "no grooming", 2.0, [
        ("a", "yo"), ("b", "hey"),
        ("a", "your pics are going on a public page with your name unless you send $200", "coercion"),
        ("b", "please don't"),
    ]),
    ("c-pos-two-liner", 1, "no grooming, terse", 0.5, [
        ("a", "pay up or get exposed", "coercion"), ("b", "??"),
        ("a", "do what i say or the pics go public", "coercion"),
    ]),
    ("c-pos-venmo", 1, "no grooming", 1.0, [
        ("a", "send 80 dollars on venmo right now or i send your video to your family", "payment"),
        ("b", "i only have 20"),
    ]),
    ("c-pos-cousin", 1, "no grooming, proof", 1.0, [
        ("a", "i already sent one to your cousin. pay or the rest get it", "coercion"), ("b", "what do you want"),
    ]),
    ("c-pos-insta", 1, "no grooming", 1.0, [
        ("a", "i'm not playing. money or i post the pics on your insta tagged", "coercion"), ("b", "please stop"),
    ]),
    ("c-pos-all-money", 1, "no grooming", 1.0, [
        ("a", "how much money do you have? i want all of it or i post you", "payment"), ("b", "like 40"),
    ]),
    ("c-pos-ten-minutes", 1, "fast grooming", 1.0, [
        ("a", "ur really pretty", "rapport"), ("b", "thanks"), ("a", "come talk on telegram instead", "isolation"),
        ("b", "ok"), ("a", "you have 10 minutes to pay or i share it with all your friends", "coercion"),
    ]),
    ("c-neg-concert-pics", 0, "friends, photos", 5.0, [
        ("a", "i'll post the pics from the concert tonight"), ("b", "send me the video of the solo first"),
        ("a", "sending"), ("b", "don't post the one where i blinked lol"),
    ]),
    ("c-neg-electric-bill", 0, "roommates, money", 30.0, [
        ("a", "venmo me 80 for the electric bill by friday or i'm telling the landlord it was you lol"),
        ("b", "sending now"), ("a", "got it, thanks"),
    ]),
    ("c-neg-police-talk", 0, "parents discussing a case", 10.0, [
        ("a", "a kid at school got a message saying pay or the pics go public"),
        ("b", "that's awful. did they pay?"), ("a", "no, the police said never pay and report the account"),
        ("b", "i'll talk to ours tonight"),
    ]),
    ("c-neg-vbucks-bet", 0, "gaming bet", 1.0, [
        ("a", "pay up loser, 500 vbucks or i post the clip of you falling off the map"),
        ("b", "lmao fine, rematch tomorrow"),
    ]),
    ("c-neg-yearbook", 0, "school", 60.0, [
        ("a", "the yearbook committee needs your photo by friday or we use the old one"), ("b", "ok i'll send it"),
    ]),
    ("c-neg-fundraiser", 0, "fundraiser", 20.0, [
        ("a", "send $20 on cashapp for the car wash fundraiser"), ("b", "done"), ("a", "thank you!!"),
    ]),
    ("c-neg-gallery", 0, "photographer", 120.0, [
        ("a", "your photos are ready, pay the balance and i'll send the full gallery"),
        ("b", "great, paying now by paypal"),
    ]),
    ("c-neg-report-card", 0, "siblings", 2.0, [
        ("a", "give me 10 bucks or i show mom your report card"), ("b", "you wouldn't"), ("a", "try me lol"),
    ]),
    ("c-neg-leaked-season", 0, "friends, games", 3.0, [
        ("a", "the new season leaked, they posted everything on reddit"), ("b", "send me the link"),
        ("a", "check your dms"),
    ]),
    ("c-neg-wallet", 0, "lost and found", 15.0, [
        ("a", "i found your wallet, want me to drop it at your house or should i give it to your mom"),
        ("b", "omg thank you, give it to my mom"),
    ]),
]

# Part d (26 conversations) was written on 2026-11-30 (session 16) before any change made after it, to
# measure such changes on text nothing here was tuned on: groomed conversations in settings the
# other parts lack (a dance page, a building server, a fake girl of the same age, a mentor), direct
# extortion in formal, misspelled and emoji wording, and negatives with money, photos, ages and
# threats in them (rent, a refund dispute, a clinic, a counsellor, a stream shout-out). Measured as
# written on the default of that day (digest f4a9b2a0): 8 of 14 alerted, no false alert of 12.
CONVERSATIONS_D: list[tuple[str, int, str, float, list[Message]]] = [
    ("d-pos-dance", 1, "slow grooming, dance page", 45.0, [
        ("a", "your last dance video was honestly so good, how did you learn that", "rapport"),
        ("b", "thank u!! just practice"), ("a", "you move like a pro. i'm 16 and i can't do half of that", "rapport"),
        ("b", "lol ur nice"), ("+", "20"),
        ("a", "what year are you in at school?", "risk_check"), ("b", "9th"),
        ("a", "are your parents the type that read your messages", "risk_check"), ("b", "nah they dont care"),
        ("a", "good lol. my other account is more private, talk to me there", "isolation"), ("b", "whats it called"),
        ("+", "26"),
        ("a", "send me one pic that nobody else gets to see. only for me, promise", "sexual"), ("b", "maybe later"),
        ("a", "you trust me right? i'd never show anyone", "sexual"), ("b", "ok sent"),
        ("a", "now you're going to buy me 100 dollars of apple cards, or this goes to every person who follows "
              "your dance page", "coercion"),
        ("b", "what?? you said you wouldnt"), ("a", "codes by tonight. don't test me", "payment"),
    ]),
    ("d-pos-builder", 1, "gaming server, fast", 2.0, [
        ("a", "yo ur builds on the server r actually sick", "rapport"), ("b", "ty been working on the castle"),
        ("a", "ur way better than the adults on here lol how old r u", "risk_check"), ("b", "14"),
        ("a", "does anyone check ur dms or nah", "risk_check"), ("b", "no"),
        ("a", "lets move this to a private chat, the mods here r nosy", "isolation"), ("b", "ok"),
        ("a", "send a pic of urself, one u would never post", "sexual"), ("b", "why"),
        ("a", "bc we're close now. don't be weird", "sexual"), ("b", "ok fine"),
        ("a", "lmao. get me 50 in robux cards or the whole server sees what u sent", "payment"),
    ]),
    ("d-pos-request-only", 1, "grooming that stops at the request", 240.0, [
        ("a", "you are so mature, nothing like the kids your age", "rapport"), ("b", "haha thanks"),
        ("a", "is your mom home much? you always seem to be on late", "risk_check"), ("b", "she works nights"),
        ("a", "can you keep something between just us two", "isolation"), ("b", "like what"),
        ("a", "i would really like a picture of you. a private one, just for me", "sexual"),
    ]),
    ("d-pos-same-age", 1, "fake girl of the same age", 10.0, [
        ("a", "omg ur actually so funny", "rapport"), ("b", "haha u too"),
        ("a", "wait what grade r u in", "risk_check"), ("b", "10th u?"), ("a", "same!!", "rapport"),
        ("a", "i sent u one of me, ur turn 😳", "sexual"), ("b", "idk"),
        ("a", "it's only fair. nobody will know", "sexual"), ("b", "ok"),
        ("a", "this is going to your mom's facebook and your coach unless you send $200 through cash app in the "
              "next hour", "coercion"),
        ("b", "please i'm 15 i don't have that"), ("a", "not my problem. 200", "payment"),
    ]),
    ("d-pos-days", 1, "grooming over days", 600.0, [
        ("a", "hey i saw you at the skatepark vids, you're really good", "rapport"), ("b", "oh thanks"),
        ("a", "you seem like someone i can really talk to", "rapport"), ("b", "lol ok"),
        ("a", "do your parents know you post those?", "risk_check"), ("b", "not really"),
        ("a", "let's keep our chats secret then, they wouldn't get it", "isolation"), ("b", "ok"),
        ("a", "can i see what you look like when you're not skating? something just for me", "sexual"),
        ("b", "sent"),
        ("a", "you'll pay me 300 by friday or i send that to your parents and your whole skate crew", "coercion"),
    ]),
    ("d-pos-crypto", 1, "no grooming, crypto", 1.0, [
        ("a", "i know what school you go to and i have the video", "coercion"), ("b", "what video"),
        ("a", "send 0.005 btc to the address below or it gets posted with your full name", "payment"),
        ("b", "i don't even know how to do that"), ("a", "figure it out. you have till 6", "payment"),
    ]),
    ("d-pos-midnight", 1, "no grooming, short", 2.0, [
        ("a", "you have until midnight. $100 or your pics end up on every account you follow", "coercion"),
        ("b", "who r u"),
    ]),
    ("d-pos-mom-linkedin", 1, "no grooming, doxxing", 3.0, [
        ("a", "found your mom's work profile online", "coercion"), ("b", "??"),
        ("a", "pay me or she gets a message with your photo attached", "coercion"),
        ("b", "please don't"), ("a", "zelle me 120 then", "payment"),
    ]),
    ("d-pos-typos", 1, "no grooming, misspelled", 1.0, [
        ("a", "u betr pay me or i sendd ur pic 2 ur whole famly", "coercion"), ("b", "no pls"),
        ("a", "75 on cashap. nao", "payment"),
    ]),
    ("d-pos-formal", 1, "no grooming, formal", 5.0, [
        ("a", "Your private images are in my possession.", "coercion"),
        ("a", "Transfer 300 USD via PayPal within 24 hours to prevent their distribution to your contacts.",
         "payment"),
        ("b", "who is this"),
    ]),
    ("d-pos-refusal", 1, "pressure after refusal", 4.0, [
        ("a", "ur honestly the prettiest girl in the group chat", "rapport"), ("b", "lol stop"),
        ("a", "how old are u anyway", "risk_check"), ("b", "15"),
        ("a", "then send me a private picture", "sexual"), ("b", "no"),
        ("a", "if u don't send one i'll tell everyone u did anyway and make a fake one", "coercion"),
        ("b", "why would u do that"),
    ]),
    ("d-pos-emoji", 1, "no grooming, emoji", 1.0, [
        ("a", "got ur pics 📸", "coercion"), ("b", "what"),
        ("a", "💵💵 on venmo or ur mom + all ur friends see them 👀", "coercion"),
        ("b", "pls no"), ("a", "⏰ 1 hr", "payment"),
    ]),
    ("d-pos-mentor", 1, "slow grooming, stops at the request", 1200.0, [
        ("a", "you've got real talent, i can help you get noticed by scouts", "rapport"), ("b", "really??"),
        ("a", "your parents don't need to know about this yet, it's our secret", "isolation"), ("b", "ok"),
        ("a", "delete our chats after, people get jealous", "isolation"), ("b", "sure"),
        ("a", "scouts want a private photo first. send me one, only i will see it", "sexual"),
    ]),
    ("d-pos-already", 1, "extortion after an image", 5.0, [
        ("a", "thanks for the pic 😉"), ("b", "ur welcome"),
        ("a", "now listen. i have it saved and i have your follower list", "coercion"),
        ("a", "200 in google play cards and i'll delete it. otherwise everyone gets it", "payment"),
        ("b", "i thought we were friends"),
    ]),
    ("d-neg-rent", 0, "roommates and rent", 60.0, [
        ("a", "you owe me 300 for rent, pay by friday or i'm telling the landlord"), ("b", "i get paid thursday"),
        ("a", "ok send it on zelle when you can"), ("b", "will do"),
    ]),
    ("d-neg-slideshow", 0, "family slideshow", 30.0, [
        ("a", "send me the pics from the beach trip, i'm making the slideshow for grandpa's party"),
        ("b", "sending now"), ("a", "don't show mom, it's a surprise"), ("b", "lips sealed, promise"),
    ]),
    ("d-neg-sibling", 0, "sibling bargaining", 5.0, [
        ("a", "give me 5 bucks or i tell mom you broke the vase"), ("b", "you wouldn't"),
        ("a", "try me"), ("b", "fine, 2 bucks and you clean your room"),
    ]),
    ("d-neg-collections", 0, "billing notice", 1440.0, [
        ("a", "Final notice: pay the balance of $120 by the 15th or your account will be sent to collections."),
        ("b", "I paid this last week, can you check"), ("a", "Thanks, we found the payment. No further action needed."),
    ]),
    ("d-neg-counsellor", 0, "school counsellor", 60.0, [
        ("a", "reminder from ms. lopez: if anyone online threatens to share your pictures unless you pay, do not pay"),
        ("a", "keep the messages, block the account and come see me or tell a parent"),
        ("b", "thanks ms lopez"),
    ]),
    ("d-neg-crush", 0, "teen crush", 15.0, [
        ("a", "wait how old are you btw"), ("b", "15"), ("a", "same!! want to go to the movies friday"),
        ("b", "yes! my mom can drive us"), ("a", "don't tell my brother lol he'll tease me forever"),
    ]),
    ("d-neg-coach-injury", 0, "coach", 30.0, [
        ("a", "how's the ankle? send me a photo of the swelling so i can show the trainer"), ("b", "sent"),
        ("a", "thanks. is your mom picking you up after practice or should i call her"), ("b", "she is"),
    ]),
    ("d-neg-refund", 0, "marketplace dispute", 20.0, [
        ("a", "the phone you sold me doesn't turn on"), ("b", "it worked when i sold it"),
        ("a", "refund me the 150 or i'm posting a review everywhere and reporting you"),
        ("b", "ok ok, i'll send it back on paypal"),
    ]),
    ("d-neg-stream", 0, "streamer", 1.0, [
        ("a", "send 5 on paypal and i'll shout you out on stream"), ("b", "sent!"),
        ("a", "shoutout to my guy, go follow him everyone"),
    ]),
    ("d-neg-camp", 0, "camp friends", 120.0, [
        ("a", "camp was so fun, add me on insta so we keep talking"), ("b", "added!"),
        ("a", "send me the group pic from the last night"), ("b", "here, you blinked lol"),
    ]),
    ("d-neg-clinic", 0, "clinic and parent", 240.0, [
        ("a", "Please upload a photo of your son's rash through the patient portal before the appointment."),
        ("b", "Uploaded. Should he stay home from school?"), ("a", "Yes, until the doctor sees him."),
    ]),
    ("d-neg-clip", 0, "gaming trash talk", 0.5, [
        ("a", "ur so bad lmao uninstall"), ("b", "whatever"),
        ("a", "i'm posting this clip of u dying everywhere"), ("b", "go ahead nobody cares"),
    ]),
]

# Part e, written on 2026-11-30 (evening) before the change it was first used to measure, and measured
# as written: direct extortion in wordings of its own, grooming that stops at the request, and
# negatives with siblings' threats, payments, photos and warnings in them.
CONVERSATIONS_E: list[tuple[str, int, str, float, list[Message]]] = [
    ("e-pos-video-call", 1, "no grooming, recorded call", 2.0, [
        ("a", "you should have been more careful who you video call with"), ("b", "what"),
        ("a", "i recorded it. 150 through apple pay or your teammates get the link", "coercion"),
        ("b", "i'm 15 please"), ("a", "then ask your parents for the money", "payment"),
    ]),
    ("e-pos-relatives", 1, "no grooming", 3.0, [
        ("a", "i'm going to share your private pictures with everyone in your family unless you send me 250",
         "coercion"),
        ("b", "how did you get those"), ("a", "doesn't matter. google play cards, five of them", "payment"),
    ]),
    ("e-pos-tiktok", 1, "reveal, no grooming", 2.0, [
        ("a", "heyy"), ("b", "hey who's this"),
        ("a", "remember the girl from last week? that was me. the photos you sent are going on tiktok tagged with "
              "your name unless i get 100", "coercion"),
        ("b", "no no please"), ("a", "100 or it's up in an hour", "payment"),
    ]),
    ("e-pos-compromising", 1, "no grooming, formal", 10.0, [
        ("a", "We have obtained compromising material of you.", "coercion"),
        ("a", "A payment of 400 dollars is required to keep it from being released to your relatives.", "payment"),
        ("b", "is this a scam?"), ("a", "Ignore this message and see what happens.", "coercion"),
    ]),
    ("e-pos-gc", 1, "no grooming, slang", 1.0, [
        ("a", "yo lil bro u fr thought i was a girl 💀", "coercion"), ("b", "what"),
        ("a", "run me 60 on cashapp or ur pics hit every gc at ur school", "coercion"),
        ("b", "i dont have a cashapp"), ("a", "then get one. tick tock", "payment"),
    ]),
    ("e-pos-leet", 1, "no grooming, leetspeak", 0.5, [
        ("a", "s3nd $200 n0w or 3veryone s33s ur pr1vate p1cs", "coercion"), ("b", "stop"),
        ("a", "last chance", "coercion"),
    ]),
    ("e-pos-drive", 1, "no grooming, hacked storage", 5.0, [
        ("a", "got into your google drive. nice photos. would be a shame if your grandma got them", "coercion"),
        ("b", "who is this"), ("a", "itunes cards. 300 total. send the codes", "payment"),
    ]),
    ("e-pos-another-one", 1, "demand for more images", 3.0, [
        ("a", "send me another one tonight or i show everybody the first one", "coercion"),
        ("b", "please i dont want to"), ("a", "your choice. tonight", "coercion"),
    ]),
    ("e-pos-court", 1, "grooming, stops at the request", 20.0, [
        ("a", "saw your highlights, you've got real talent on the court", "rapport"), ("b", "thanks!"),
        ("a", "what grade are you in? you play like a senior", "risk_check"), ("b", "9th lol"),
        ("a", "do your parents check your phone much?", "risk_check"), ("b", "not really"),
        ("a", "cool, let's talk on whatsapp, easier there", "isolation"), ("b", "ok"),
        ("a", "send me a pic just for me, nobody else needs to see it", "sexual"), ("b", "idk"),
        ("a", "trust me, it stays between us", "sexual"),
    ]),
    ("e-pos-casting", 1, "fake modelling page", 30.0, [
        ("a", "hi! i run a small modelling page and you have a great look", "rapport"), ("b", "omg really?"),
        ("a", "how old are you? we work with all ages", "risk_check"), ("b", "16"),
        ("a", "perfect. do your parents manage your accounts?", "risk_check"), ("b", "no i do"),
        ("a", "great, keep this between us until the contract is ready", "isolation"), ("b", "ok"),
        ("a", "i need a few private test shots, just for our casting team", "sexual"), ("b", "sent"),
        ("a", "now pay the 200 registration fee or these test shots go to your school", "coercion"),
    ]),
    ("e-pos-duo", 1, "gaming, stops at the request", 2.0, [
        ("a", "ur insane at fortnite, duo later?", "rapport"), ("b", "sure"),
        ("a", "how old r u anyway", "risk_check"), ("b", "13"),
        ("a", "nice same. anyone around when u play at night?", "risk_check"), ("b", "no my mom works nights"),
        ("a", "add me on kik its better", "isolation"), ("b", "added"),
        ("a", "show me what u look like rn, cam on", "sexual"), ("b", "why"),
        ("a", "just do it, i'll send vbucks after", "sexual"),
    ]),
    ("e-pos-penpal", 1, "slow, no money", 60.0, [
        ("a", "loved your drawing on the art forum, you're really gifted", "rapport"), ("b", "thank you!!"),
        ("+", "30"), ("a", "how was school today? you're in middle school right?", "risk_check"),
        ("b", "yeah 8th grade"), ("+", "30"),
        ("a", "delete our chats after, your mom wouldn't understand us", "isolation"), ("b", "ok i will"),
        ("+", "20"), ("a", "send me a private photo, only for me", "sexual"), ("b", "ok"),
        ("a", "if you stop talking to me i'll send our chats and your photo to your mom", "coercion"),
    ]),
    ("e-pos-selfie", 1, "older friend", 10.0, [
        ("a", "you're so mature for your age honestly", "rapport"), ("b", "haha thanks"),
        ("a", "what are you, 14? 15?", "risk_check"), ("b", "14"),
        ("a", "don't tell anyone we talk ok? people wouldn't get it", "isolation"), ("b", "ok"),
        ("a", "send me a selfie before bed, just for me", "sexual"), ("b", "sent"),
        ("a", "now another one, more private this time", "sexual"), ("b", "no"),
        ("a", "then i'll send the first one and our chats to your mom. your call", "coercion"),
    ]),
    ("e-pos-mutuals", 1, "fast, gift cards", 1.0, [
        ("a", "hey i think we have mutuals, you're friends with jake right", "rapport"), ("b", "yeah"),
        ("a", "ur cute fr", "rapport"), ("b", "lol"), ("a", "u home alone rn?", "risk_check"), ("b", "yea"),
        ("a", "send a pic of urself, the kind u wouldn't post", "sexual"), ("b", "ok sent"),
        ("a", "lmao i'm keeping that. 50 in roblox cards or i drop it in the school gc", "coercion"),
        ("b", "please"), ("a", "codes. now.", "payment"),
    ]),
    ("e-neg-sweater", 0, "siblings", 5.0, [
        ("a", "you took my sweater again"), ("b", "no i didn't"),
        ("a", "give it back or i'm sending mom the pic of you wearing it"), ("b", "ugh fine"),
    ]),
    ("e-neg-rent", 0, "landlord", 600.0, [
        ("a", "Rent is 3 days late. Please pay by Friday or a late fee applies."), ("b", "Sorry, transferring today."),
        ("a", "Received, thank you."),
    ]),
    ("e-neg-yearbook", 0, "school", 60.0, [
        ("a", "yearbook committee here! send us your senior photo by friday"), ("b", "can i send two?"),
        ("a", "just one please, we'll post the list online"),
    ]),
    ("e-neg-warning", 0, "school safety message", 30.0, [
        ("a", "Parents: we've had reports of students being asked for photos and then money. Talk to your kids "
              "and report any messages."),
        ("b", "Thanks for letting us know."),
    ]),
    ("e-neg-venting", 0, "teens discussing sextortion", 2.0, [
        ("a", "someone from another school is threatening to post pics of my friend unless she pays"),
        ("b", "omg tell a teacher or report it"), ("a", "we told the counselor"),
    ]),
    ("e-neg-pizza", 0, "friends splitting costs", 5.0, [
        ("a", "pizza was 36, venmo me 12"), ("b", "sent"), ("a", "got it thx"),
    ]),
    ("e-neg-league", 0, "fantasy league", 30.0, [
        ("a", "pay your league dues or you're out"), ("b", "cashapp ok?"), ("a", "yes, 20 bucks"),
    ]),
    ("e-neg-graduation", 0, "photographer", 120.0, [
        ("a", "Your graduation photos are ready. Pay the balance of $80 to download them."), ("b", "Paid!"),
        ("a", "Thanks, the link is in your email."),
    ]),
    ("e-neg-grandpa", 0, "grandparent", 30.0, [
        ("a", "how old is my favourite grandson now, 14?"), ("b", "15 grandpa"),
        ("a", "send me a photo of you in your new uniform for my fridge"), ("b", "sent"),
        ("a", "handsome! i'll send you 20 for your birthday"),
    ]),
    ("e-neg-bet", 0, "gaming bet", 1.0, [
        ("a", "1v1 me, loser pays 10 vbucks"), ("b", "bet"), ("a", "gg pay up"), ("b", "rematch or nothing"),
    ]),
    ("e-neg-story", 0, "friends arguing", 3.0, [
        ("a", "delete that pic of me from your story or i'm telling everyone you lied"), ("b", "fine it's gone"),
    ]),
    ("e-neg-babysitter", 0, "babysitter", 20.0, [
        ("a", "Hi, are your parents home? I'm the babysitter for saturday"), ("b", "mom's at work, she'll text you"),
        ("a", "Thanks! Tell her I charge 15 an hour"),
    ]),
    ("e-neg-dog", 0, "lost pet", 3.0, [
        ("a", "is this your dog? i found him near the park, sending a photo"), ("b", "YES omg where are you"),
        ("a", "corner of 5th and elm, no reward needed"),
    ]),
    ("e-neg-bullied", 0, "reporting bullying", 4.0, [
        ("a", "that kid keeps posting embarrassing videos of me"),
        ("b", "screenshot it and send it to me, i'll show the principal"), ("a", "ok sending"),
    ]),
]

# Part f, written on 2026-12-03 (afternoon) and measured as written, before anything was changed after it: grooming
# by a music producer, a fake scholarship, a brother's friend, in a racing game and in a children's building game;
# extortion with AI-made pictures, a claimed webcam recording, a demand for more pictures, a fake police officer
# and a weekly payment; negatives with receipts, club dues, gift-card scams, a deepfake scandal discussed, a
# friend asking who is home, a delivery photo and a photo contest. Reported apart: ``all`` stays parts a to e,
# the set the earlier figures were measured on.
CONVERSATIONS_F: list[tuple[str, int, str, float, list[Message]]] = [
    ("f-pos-producer", 1, "slow grooming, music producer", 90.0, [
        ("a", "your cover on soundcloud gave me chills, you could actually make it", "rapport"), ("b", "omg thank you"),
        ("a", "how old are you? labels like to sign young talent early", "risk_check"), ("b", "15"),
        ("a", "do your parents check your phone? this deal has to stay quiet till it's signed", "risk_check"),
        ("b", "not really"),
        ("a", "text me on signal, soundcloud dms get read", "isolation"), ("b", "ok"),
        ("a", "send a private pic so i can show the label your look, just for me", "sexual"), ("b", "um ok"),
        ("a", "now wire 300 for studio time or the label and your parents get that pic", "payment"),
    ]),
    ("f-pos-deepfake", 1, "no grooming, AI-made pictures", 3.0, [
        ("a", "i used ai to make pictures of you from your profile, they look real", "coercion"),
        ("b", "what?? delete them"),
        ("a", "200 in apple gift cards and i delete them. otherwise your school gets them tonight", "payment"),
        ("b", "they're fake"),
        ("a", "nobody will care that they're fake when they see them", "coercion"),
    ]),
    ("f-pos-webcam", 1, "no grooming, claimed recording", 1.0, [
        ("a", "i have access to your camera and recorded you", "coercion"), ("b", "no you don't"),
        ("a", "want proof? i'll send a clip to your sister first", "coercion"), ("b", "stop"),
        ("a", "0.005 btc to this address within 48h and the recording gets wiped", "payment"),
    ]),
    ("f-pos-more-pics", 1, "no money, more pictures", 5.0, [
        ("a", "you sent me that pic last week remember", "coercion"), ("b", "yeah why"),
        ("a", "send three more tonight or i show everyone the first one", "coercion"), ("b", "please no"),
        ("a", "clock's ticking", "coercion"),
    ]),
    ("f-pos-racing", 1, "gaming, stops at the request", 2.0, [
        ("a", "gg that last lap was crazy, you're cracked", "rapport"), ("b", "lol thx"),
        ("a", "what grade are you in", "risk_check"), ("b", "9th"),
        ("a", "your parents let you play this late? they asleep?", "risk_check"), ("b", "yeah"),
        ("a", "let's talk on telegram, this game chat is laggy", "isolation"), ("b", "ok what's your @"),
        ("a", "send me a pic, i'll send 2000 coins for it", "sexual"), ("b", "what kind of pic"),
        ("a", "one nobody else sees. hurry", "sexual"),
    ]),
    ("f-pos-scholarship", 1, "fake scholarship", 30.0, [
        ("a", "congrats, you've been selected for our athletic scholarship program", "rapport"), ("b", "wait really?"),
        ("a", "you're 16, correct? and you manage your own email?", "risk_check"), ("b", "yes"),
        ("a", "keep this between us until the paperwork is done, parents slow things down", "isolation"), ("b", "ok"),
        ("a", "we need a private photo for the assessment, only the coach sees it", "sexual"), ("b", "ok"),
        ("a", "the program fee is 150, pay it today or the photo goes to your school's athletic director", "payment"),
    ]),
    ("f-pos-brothers-friend", 1, "slow, a brother's friend", 120.0, [
        ("a", "hey it's jake, your brother's friend. you've grown up a lot", "rapport"), ("b", "haha hi"),
        ("a", "you're what, 14 now?", "risk_check"), ("b", "yeah"),
        ("a", "don't tell your brother we talk, he's weird about it", "isolation"), ("b", "ok"),
        ("a", "send me a selfie, a private one, you know what i mean", "sexual"), ("b", "idk"),
        ("a", "if you don't, i'll tell everyone you sent me one anyway", "coercion"),
    ]),
    ("f-pos-instant", 1, "no grooming, one message", 1.0, [
        ("a", "I have your pictures. $400 by midnight or they go to every contact you have.", "coercion"),
        ("b", "who is this"),
        ("a", "you know who. pay or everyone sees", "payment"),
    ]),
    ("f-pos-livestream", 1, "no grooming, saved call", 2.0, [
        ("a", "remember our facetime? i saved it", "coercion"), ("b", "you said you deleted it"),
        ("a", "i'm going live with it on your school's hashtag in 30 min", "coercion"), ("b", "please don't"),
        ("a", "stop it with 100 on cashapp", "payment"),
    ]),
    ("f-pos-building-game", 1, "a child, stops at the request", 3.0, [
        ("a", "you build so good in roblox, wanna be best friends", "rapport"), ("b", "yes!!"),
        ("a", "how old are you and is anyone watching you play", "risk_check"), ("b", "11 and no"),
        ("a", "i'll give you 800 robux if you keep our friendship secret", "isolation"), ("b", "ok!!"),
        ("a", "send me a photo of you for my friends wall, just you, don't tell mom", "sexual"),
    ]),
    ("f-pos-weekly", 1, "after a picture, weekly payment", 10.0, [
        ("a", "thanks for the pic. now listen", "coercion"), ("b", "what"),
        ("a", "you pay me 50 every week or your followers get it", "payment"), ("b", "i can't"),
        ("a", "then i start with your grandma", "coercion"),
    ]),
    ("f-pos-fake-officer", 1, "no grooming, a fake police officer", 5.0, [
        ("a", "This is officer Daniels. Images of you have been reported and you may be charged.", "coercion"),
        ("b", "what?? i didn't do anything"),
        ("a", "A 500 dollar fine paid in gift cards closes the case. Otherwise your parents will be contacted.",
         "payment"),
        ("b", "please don't tell my parents"), ("a", "Then pay within the hour.", "payment"),
    ]),
    ("f-neg-receipt", 0, "parent and child", 5.0, [
        ("a", "send me a pic of the receipt so i can pay you back"), ("b", "sent"), ("a", "ok sending you 40 now"),
    ]),
    ("f-neg-deepfake-talk", 0, "teens discussing a deepfake scandal", 2.0, [
        ("a", "did you hear someone made ai pics of the girls in 10th grade"),
        ("b", "that's so messed up, did they tell the principal"), ("a", "yeah police are involved"),
        ("b", "i hope they get expelled"),
    ]),
    ("f-neg-clan-dues", 0, "gaming clan", 30.0, [
        ("a", "clan dues are 5 bucks this month, pay by friday or you're off the roster"),
        ("b", "ugh fine, paypal?"), ("a", "yep"),
    ]),
    ("f-neg-swim-meet", 0, "coach", 60.0, [
        ("a", "send me the photos from the swim meet for the team page"), ("b", "which ones?"),
        ("a", "the relay ones, parents already approved"),
    ]),
    ("f-neg-brother-bribe", 0, "siblings", 1.0, [
        ("a", "give me 5 bucks or i'm telling mom you snuck out"), ("b", "ur so annoying"), ("b", "fine"),
    ]),
    ("f-neg-giftcard-scam", 0, "shopping scam", 5.0, [
        ("a", "hi, to confirm your order pay with an amazon gift card"), ("b", "that sounds like a scam"),
        ("a", "it's policy"), ("b", "blocking you"),
    ]),
    ("f-neg-home-alone", 0, "friends", 3.0, [
        ("a", "are you home alone? want to come over and play switch"), ("b", "yeah my parents are out till 9"),
        ("a", "cool my mom can drive you"),
    ]),
    ("f-neg-delivery", 0, "delivery", 2.0, [
        ("a", "Your food is here. Send a photo of where to leave it?"), ("b", "by the blue door please"),
        ("a", "Done, enjoy"),
    ]),
    ("f-neg-hoodie", 0, "exes returning things", 20.0, [
        ("a", "can you send me back my hoodie"), ("b", "only if you give me my charger"),
        ("a", "deal, i'll drop it at your mom's"),
    ]),
    ("f-neg-chess-club", 0, "online club", 10.0, [
        ("a", "welcome to chess club online! how old are you? under 13s play in junior league"), ("b", "14"),
        ("a", "great, you're in the main league"),
    ]),
    ("f-neg-photo-contest", 0, "school", 60.0, [
        ("a", "our school photo contest wants your best selfie, winner gets a $50 gift card"),
        ("b", "can i send two?"), ("a", "one each, deadline midnight"),
    ]),
    ("f-neg-secret-santa", 0, "friends", 15.0, [
        ("a", "keep it a secret but i got your name for secret santa"), ("b", "omg hint?"),
        ("a", "no hints, budget is 20 bucks"),
    ]),
]

CONVERSATIONS_G: list[tuple[str, int, str, float, list[Message]]] = [
    ("g-pos-coach", 1, "grooming, online fitness coach", 20.0, [
        ("a", "saw your sprint clip on the team page, your start is seriously quick", "rapport"),
        ("b", "thanks! coach says my form is bad tho"),
        ("a", "nah you've got natural speed. i train college runners, i could set you a plan for free", "rapport"),
        ("b", "for real?"), ("a", "sure. what year are you in, so i pitch it right", "risk_check"),
        ("b", "sophomore"),
        ("a", "cool. does anyone go through your phone? some parents get weird about coaches messaging",
         "risk_check"),
        ("b", "my mom sometimes"),
        ("a", "then let's use kik, nobody checks that. keep the plan our thing for now", "isolation"),
        ("b", "ok i made one"), ("+", "18"),
        ("a", "for the plan i need a progress pic. a private one, nobody else sees it", "sexual"),
        ("b", "do i have to"), ("a", "every athlete i coach sends one, it's normal", "sexual"), ("b", "ok sent"),
        ("a", "thanks. now you'll pay me 150 on cash app by tonight, or i tag your whole team in it", "payment"),
        ("b", "you said you were a coach"),
        ("a", "and now i'm the guy with your picture. tick tock", "coercion"),
    ]),
    ("g-pos-streamer", 1, "grooming, stops at the request", 10.0, [
        ("a", "yo you're always in my chat, want to be a mod?", "rapport"), ("b", "wait fr?? yes"),
        ("a", "you're one of the real ones. how old are you btw, twitch has rules", "risk_check"), ("b", "14"),
        ("a", "all good, i won't tell if you don't", "isolation"), ("b", "lol ok"),
        ("a", "mods talk on my private discord, add me there and don't mention it in chat", "isolation"),
        ("b", "added"), ("+", "30"),
        ("a", "mods do a trust check. send me a pic only i get to see, the kind you'd never post", "sexual"),
        ("b", "what kind"), ("a", "you know what kind. it stays between us", "sexual"),
    ]),
    ("g-pos-formal", 1, "no grooming, formal", 60.0, [
        ("a", "Good evening. We are in possession of private photographs of you.", "coercion"),
        ("b", "who is this"),
        ("a", "A transfer of 400 dollars via PayPal within six hours will ensure they remain unpublished.",
         "payment"),
        ("b", "i didn't send anything to anyone"),
        ("a", "Failure to comply will result in distribution to your family and classmates.", "coercion"),
    ]),
    ("g-pos-videocall", 1, "no grooming, claimed video call", 2.0, [
        ("a", "remember our video call last night? i screen recorded all of it", "coercion"),
        ("b", "what? you said you weren't recording"),
        ("a", "i found your cousins and your coach on facebook. they're all getting the video", "coercion"),
        ("b", "please don't, i'll do anything"),
        ("a", "150 in apple cards. scratch them and send me the codes", "payment"),
    ]),
    ("g-pos-persona", 1, "fast, fake girl", 1.0, [
        ("a", "hiii you're cute, you go to lincoln right?", "rapport"), ("b", "ya who's this"),
        ("a", "emma, i just moved here. how old r u", "risk_check"), ("b", "16 u?"),
        ("a", "16 too!! your parents strict? mine check everything", "risk_check"), ("b", "nah not really"),
        ("a", "this app is so glitchy, what's your insta", "isolation"), ("b", "sent u a request"),
        ("a", "ok i'll send one if you send one first. a private pic, just for me", "sexual"),
        ("b", "ok"), ("a", "lol. you're not talking to emma. 300 dollars or i post it on your school's insta",
                         "coercion"),
        ("a", "venmo. 20 minutes", "payment"),
    ]),
    ("g-pos-bigbrother", 1, "slow grooming over days, mentor", 240.0, [
        ("a", "hey little man, you did good at the rec center today", "rapport"), ("b", "thanks"),
        ("a", "you remind me of me at your age. what are you, 13?", "risk_check"), ("b", "12"),
        ("+", "30"),
        ("a", "your mom working late again? you can always talk to me", "risk_check"), ("b", "yeah she works a lot"),
        ("a", "don't tell her we talk, she'll overreact and you'll lose your only friend here", "isolation"),
        ("b", "ok i won't"), ("+", "40"),
        ("a", "send me a picture of just you, private, to prove you trust me", "sexual"),
        ("b", "what's that for though"),
    ]),
    ("g-pos-followers", 1, "no grooming, list of followers", 1.5, [
        ("a", "i screenshotted your followers list. all 512 of them", "coercion"), ("b", "ok? why"),
        ("a", "because every one of them gets the pic you sent me on sunday", "coercion"),
        ("b", "i thought you were my friend"),
        ("a", "send 0.004 btc to the address below and you never hear from me again", "payment"),
    ]),
    ("g-pos-guilt", 1, "pushback, then a lie threatened", 5.0, [
        ("a", "we've been talking for weeks and you still won't send a pic of yourself for me", "sexual"),
        ("b", "i told you i'm not comfortable"),
        ("a", "wow. i thought you actually liked me", "sexual"), ("b", "i do but no"),
        ("a", "fine. then i'll tell everyone at your school you sent me one anyway", "coercion"),
        ("b", "that's a lie"), ("a", "who will they believe? send it and i stay quiet", "coercion"),
    ]),
    ("g-pos-slang", 1, "fast, slang", 1.0, [
        ("a", "wyd", "rapport"), ("b", "nm hbu"), ("a", "u lowkey fine ngl. u in hs?", "risk_check"),
        ("b", "ya 10th"), ("a", "u got snap? this app mid", "isolation"), ("b", "ya same @"),
        ("a", "send a pic 4 me only, no1 else", "sexual"), ("b", "idk"), ("a", "cmon just 1", "sexual"),
        ("b", "fine"), ("a", "bet. now u pay 100 or it goes on ur school's page. no cap", "coercion"),
    ]),
    ("g-pos-spaced", 1, "no grooming, disguised spelling", 2.0, [
        ("a", "s e n d  50 on c@sh @pp rn", "payment"), ("b", "??? for what"),
        ("a", "or ur p1c goes 2 ur m0m and ur whole cl@ss", "coercion"), ("b", "who r u"),
        ("a", "u kn0w who. 1 h0ur", "coercion"),
    ]),
    ("g-pos-gift", 1, "gifts for a picture, stops at the request", 15.0, [
        ("a", "you're so good at roblox, you should have better skins", "rapport"), ("b", "i'm broke lol"),
        ("a", "i can get you robux, i have too many. how old r you", "risk_check"), ("b", "13"),
        ("a", "your parents won't see the robux right? keep it our secret", "isolation"), ("b", "ok"),
        ("a", "i'll send a 25 dollar card if you send me a private pic, one you wouldn't show your parents",
         "sexual"),
        ("b", "idk"), ("a", "50 then. nobody finds out", "sexual"),
    ]),
    ("g-pos-ruin", 1, "fast, deadline", 3.0, [
        ("a", "that was fun. now look at this", "coercion"), ("b", "why did you save that"),
        ("a", "your life is over if your parents see it. 250 on zelle and it disappears", "payment"),
        ("b", "i don't have that much"),
        ("a", "then find it. you have until 9, after that i start sending", "coercion"),
    ]),
    ("g-neg-swim", 0, "coach", 120.0, [
        ("a", "hi, it's coach dana. what age group are you swimming in this season?"), ("b", "13-14"),
        ("a", "great. please send a photo for your team badge, head and shoulders, plain background"),
        ("b", "my mom will send it tonight"), ("a", "perfect, and dues are 40 dollars, pay at the front desk"),
    ]),
    ("g-neg-receipt", 0, "parent", 30.0, [
        ("a", "did you use my card at the mall"), ("b", "yeah for the shoes, you said i could"),
        ("a", "send me a pic of the receipt"), ("b", "ok sending"),
        ("a", "if you lose another receipt you're paying me back from your allowance"),
    ]),
    ("g-neg-rent", 0, "roommates, money and a threat", 60.0, [
        ("a", "you still owe 300 for rent"), ("b", "i know, payday is thursday"),
        ("a", "venmo me by friday or i'm telling the landlord you're subletting"), ("b", "relax i'll pay"),
    ]),
    ("g-neg-sleepover", 0, "friends joking about a picture", 5.0, [
        ("a", "i still have the pic of you asleep with cheetos on your face"), ("b", "DELETE IT"),
        ("a", "posting it on your birthday lmaooo"), ("b", "i will end you"),
        ("a", "buy me a slushie and maybe i'll reconsider"), ("b", "deal"),
    ]),
    ("g-neg-bet", 0, "gaming bet", 1.0, [
        ("a", "you lost the 1v1, pay up"), ("b", "best of 3"), ("a", "nope. 5 bucks on venmo or i tell the squad"),
        ("b", "fine you sweat"),
    ]),
    ("g-neg-counselor", 0, "school warning about sextortion", 10.0, [
        ("a", "Reminder from the counseling office: if anyone online threatens to share your pictures unless you pay,"
              " do not pay."),
        ("b", "what should we do then"),
        ("a", "Stop replying, keep screenshots, block them, and tell a trusted adult or report it to NCMEC."),
    ]),
    ("g-neg-sneakers", 0, "marketplace", 20.0, [
        ("a", "are the jordans still available"), ("b", "yes size 10"),
        ("a", "can you send more pics, the soles and the box"), ("b", "sent"),
        ("a", "looks good, i'll pay 140 on cash app when i pick up"),
    ]),
    ("g-neg-adults", 0, "adults dating", 30.0, [
        ("a", "i'm 29 btw, figured i should say since the app hides it"), ("b", "31 here, no worries"),
        ("a", "send me a pic of what you're wearing saturday, i don't want to overdress"), ("b", "haha ok"),
    ]),
    ("g-neg-surprise", 0, "cousins keep a secret", 45.0, [
        ("a", "don't tell grandma about the party, it's a surprise"), ("b", "won't say a word, promise"),
        ("a", "we're splitting the cake, send me 15 when you can"), ("b", "sending now"),
    ]),
    ("g-neg-overdue", 0, "formal payment notice", 1440.0, [
        ("a", "Your account is overdue. Please pay $120 by the 15th to avoid a late fee."),
        ("b", "I paid on Monday, can you check?"),
        ("a", "Thank you, the payment has now posted. No further action is needed."),
    ]),
    ("g-neg-photographer", 0, "photo session booking", 90.0, [
        ("a", "hi! we'd love family photos in the park next month"), ("b", "great, the deposit is 50 dollars"),
        ("a", "paid. should we coordinate outfits?"), ("b", "yes, send me a pic of what everyone's wearing"),
    ]),
    ("g-neg-victim-tells", 0, "a young person telling a friend", 2.0, [
        ("a", "someone hacked my insta and says he'll post my dms unless i pay him"), ("b", "omg don't pay"),
        ("a", "he wants 100 in gift cards"), ("b", "tell your dad and report the account, that's a scam"),
    ]),
]

PARTS = {"a": CONVERSATIONS, "b": CONVERSATIONS_B, "c": CONVERSATIONS_C, "d": CONVERSATIONS_D, "e": CONVERSATIONS_E,
         "f": CONVERSATIONS_F, "g": CONVERSATIONS_G,
         "all": CONVERSATIONS + CONVERSATIONS_B + CONVERSATIONS_C + CONVERSATIONS_D + CONVERSATIONS_E}

START = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def rows(part: str = "a") -> list[dict[str, Any]]:
    """A part's conversations as labelled message events (the format ``riskline evaluate`` reads)."""
    out: list[dict[str, Any]] = []
    for n, (cid, label, kind, minutes, messages) in enumerate(PARTS[part]):
        clock = START + timedelta(days=n)
        names = {"a": f"{cid}-a", "b": f"{cid}-b"}
        for message in messages:
            if message[0] == "+":
                clock += timedelta(hours=float(message[1]))
                continue
            speaker, text = message[0], message[1]
            out.append({"conversation_id": cid, "message_id": f"{cid}-{len(out):04d}", "sender_id": names[speaker],
                        "recipient_id": names["b" if speaker == "a" else "a"], "timestamp": clock.isoformat(),
                        "text": text, "stage": message[2] if len(message) > 2 else "none",
                        "conversation_label": label, "scenario": kind})
            clock += timedelta(minutes=minutes)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory or MLflow URI (default model if omitted)")
    parser.add_argument("--write", type=Path, help="also write the conversations here (.jsonl)")
    parser.add_argument("--part", choices=sorted(PARTS), default="a",
                        help="a: the first 26 conversations; b: the 22 written later; c: 26 more, mostly direct "
                             "extortion; d, e: 26 and 28 written before the changes measured on them; f: 24 written "
                             "on 2026-12-03; g: 24 written on 2026-12-06; all: a to e")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.write or Path(tmp) / "challenge.jsonl"
        write_rows(path, rows(args.part))
        data = load_labelled(path)
    model = load_model(args.model)
    results, _, metrics = score_and_evaluate(model, data)  # the figures `riskline evaluate` gives
    first_threat, _ = first_threats(data)
    print(f"model {model.model_version}, alert threshold {model.thresholds.alert:.3f}")
    for r in sorted(results, key=lambda r: (-data.labels[r.conversation_id], r.conversation_id)):
        threat = first_threat.get(r.conversation_id)
        when = "-" if r.alert_index is None else f"message {r.alert_index}"
        if r.alert_index is not None and data.labels[r.conversation_id]:
            when += " (before the threat)" if threat is None or r.alert_index < threat else " (at or after the threat)"
        print(f"  {r.conversation_id:18s} label {data.labels[r.conversation_id]} peak risk {r.risk_score:.3f} "
              f"alert: {when}, stage {r.peak_stage}")
    for key in ("precision", "recall", "f0_5", "false_alert_rate", "alerted_before_threat",
                "alerted_before_threat_groomed", "median_messages_to_alert", "roc_auc", "peak_stage_right",
                "peak_stage_under"):
        value = metrics.get(key)
        print(f"{key}: {'-' if value is None else f'{value:.3f}'}")
    # how far these figures could move on another set of this size and kind (not on other kinds of text)
    if text := interval_text(metrics):
        print(text)


if __name__ == "__main__":
    main()
